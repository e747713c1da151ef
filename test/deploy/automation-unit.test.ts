import { spawnSync } from '../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/tmp.js';

const UNIT = fs.readFileSync('deploy/systemd/canopy-automation.service', 'utf8');
const directive = (name: string) =>
  UNIT.split('\n')
    .filter((l) => l.startsWith(`${name}=`))
    .map((l) => l.slice(name.length + 1));

describe('the automation unit and its environment', () => {
  it('runs with the systemd watchdog and drives the relays safe after any end', () => {
    expect(directive('Type')).toEqual(['notify']);
    expect(directive('NotifyAccess')).toEqual(['all']); // systemd-notify is a child of the main process
    expect(directive('WatchdogSec')).toEqual(['30s']);
    expect(directive('ExecStopPost')).toEqual(['/usr/local/bin/canopy automation --safe-state']);
  });

  it('install.sh writes CANOPY_I2C=1 into the environment, and warns when an older one lacks it', () => {
    const root = tempDir('canopy-root-');
    const run = () =>
      spawnSync(
        'bash',
        ['deploy/install.sh', '--root', root, '--app', path.resolve('.'), '--node', process.execPath],
        { encoding: 'utf8' },
      );
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    const env = path.join(root, 'etc/canopy/canopy.env');
    expect(fs.readFileSync(env, 'utf8')).toMatch(/^CANOPY_I2C=1$/m);
    expect(first.stdout).not.toMatch(/sets no CANOPY_I2C/);
    fs.writeFileSync(env, 'REDIS_URL=redis://127.0.0.1:6379\n');
    const second = run();
    expect(second.stdout).toMatch(/warning: \/etc\/canopy\/canopy\.env sets no CANOPY_I2C: add CANOPY_I2C=1/);
    expect(fs.readFileSync(env, 'utf8')).not.toMatch(/CANOPY_I2C/); // an operator's file is never rewritten
   }, 240_000); // two full installs (ACL generation included) on a loaded CI machine
});
