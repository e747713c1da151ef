import { spawnSync } from '../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/tmp.js';
import { until } from '../ops/proc.js';

const HANDLER = path.resolve('deploy/bin/canopy-error-handler');

/** Stand-ins for systemctl, journalctl, loginctl, runuser and a terminal, recording how they were called. */
function stubs(desktop: boolean): { bin: string; calls: string } {
  const bin = tempDir('canopy-stubs-');
  const calls = path.join(bin, 'calls.log');
  const stub = (name: string, body: string) =>
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> '${calls}'\n${body}\n`, { mode: 0o755 });
  stub('systemctl', 'echo ActiveState=failed; echo Result=exit-code; echo ExecMainStatus=3');
  stub('journalctl', 'i=1; while [ $i -le 60 ]; do echo "worker log line $i"; i=$((i+1)); done | tail -n 50');
  stub(
    'loginctl',
    desktop
      ? 'case "$1" in list-sessions) echo " c1 1000 grower seat0 tty7";; show-session) printf "Type=x11\\nActive=yes\\nName=grower\\nUser=1000\\nDisplay=:0\\n";; esac'
      : 'exit 0',
  );
  stub('runuser', '');
  stub('xterm', '');
  return { bin, calls };
}

function run(unit: string, desktop: boolean, logDir = path.join(tempDir('canopy-log-'), 'canopy-failures')) {
  const { bin, calls } = stubs(desktop);
  const r = spawnSync('bash', [HANDLER, unit], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CANOPY_LOG_DIR: logDir, CANOPY_TERMINAL: 'xterm' },
  });
  return { r, logDir, calls };
}

describe('deploy/bin/canopy-error-handler', () => {
  it('records the failure, the last 50 log lines and the commands to investigate', () => {
    const { r, logDir, calls } = run('canopy-worker.service', false);
    expect(r.status).toBe(0);
    const files = fs.readdirSync(logDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^failure-canopy-worker\.service-\d{8}T\d{6}Z-[A-Za-z0-9]{6}\.log$/);
    const report = fs.readFileSync(path.join(logDir, files[0] as string), 'utf8');
    expect(report).toContain('Canopy: canopy-worker.service FAILED');
    expect(report).toContain('Result=exit-code');
    expect(report).toContain('worker log line 60');
    expect(report).not.toContain('worker log line 10\n');
    expect(report).toContain('journalctl -u canopy-worker.service -n 200 --no-pager');
    expect(report).toContain('systemctl status canopy-worker.service');
    expect(report).toContain('sudo systemctl restart canopy-worker.service');
    const log = fs.readFileSync(calls, 'utf8');
    expect(log).toContain('journalctl -u canopy-worker.service -n 50 --no-pager');
    expect(log).not.toContain('runuser');
  });

  it('opens a terminal window showing the report in an active desktop session', async () => {
    const { r, logDir, calls } = run('canopy-api.service', true);
    expect(r.status).toBe(0);
    const report = path.join(logDir, fs.readdirSync(logDir)[0] as string);
    await until(() => fs.readFileSync(calls, 'utf8').includes('runuser'), 5000, 'the terminal');
    const line = fs.readFileSync(calls, 'utf8').split('\n').find((l) => l.startsWith('runuser')) as string;
    expect(line).toContain('-u grower -- env DISPLAY=:0 XDG_RUNTIME_DIR=/run/user/1000');
    expect(line).toContain('xterm -T Canopy: canopy-api.service failed -e sh -c');
    expect(line).toContain(report);
    expect(r.stdout).toContain('opened xterm for grower on :0');
  });

  it('refuses a unit name that is not one', () => {
    const { r, logDir } = run("x'; rm -rf /tmp/y; '", false);
    expect(r.status).toBe(2);
    expect(fs.existsSync(logDir)).toBe(false);
  });

  it('writes a new file each time: a link planted at the report name is never followed', () => {
    const logDir = path.join(tempDir('canopy-log-'), 'canopy-failures');
    fs.mkdirSync(logDir, { mode: 0o755 });
    const victim = path.join(tempDir('canopy-victim-'), 'passwd');
    fs.writeFileSync(victim, 'root:x:0:0\n');
    // every name the old handler could have chosen this minute (failure-UNIT-TIME.log) and a few more
    const now = Date.now();
    for (let s = -5; s < 120; s++) {
      const stamp = new Date(now + s * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
      fs.symlinkSync(victim, path.join(logDir, `failure-canopy-worker.service-${stamp}.log`));
    }
    const { r } = run('canopy-worker.service', false, logDir);
    expect(r.status).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe('root:x:0:0\n');
    const reports = fs.readdirSync(logDir).filter((f) => !fs.lstatSync(path.join(logDir, f)).isSymbolicLink());
    expect(reports).toHaveLength(1);
    const report = path.join(logDir, reports[0] as string);
    expect(fs.readFileSync(report, 'utf8')).toContain('Canopy: canopy-worker.service FAILED');
    expect(fs.statSync(report).mode & 0o777).toBe(0o640);
  });

  it('refuses a log directory that is a symlink, or writable by others', () => {
    const elsewhere = tempDir('canopy-elsewhere-');
    const link = path.join(tempDir('canopy-log-'), 'canopy-failures');
    fs.symlinkSync(elsewhere, link);
    const a = run('canopy-worker.service', false, link);
    expect(a.r.status).toBe(3);
    expect(a.r.stderr).toMatch(/is not a directory owned by/);
    expect(fs.readdirSync(elsewhere)).toEqual([]);

    const open = path.join(tempDir('canopy-log-'), 'canopy-failures');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    const b = run('canopy-worker.service', false, open);
    expect(b.r.status).toBe(3);
    expect(b.r.stderr).toMatch(/writable by group or others/);
    expect(fs.readdirSync(open)).toEqual([]);
  });

  it('the unit gives the handler a root-owned directory of its own, not the services\' log directory', () => {
    const unit = fs.readFileSync('deploy/systemd/canopy-error-handler@.service', 'utf8');
    expect(unit).toMatch(/^LogsDirectory=canopy-failures$/m);
    expect(unit).toMatch(/^Environment=CANOPY_LOG_DIR=\/var\/log\/canopy-failures$/m);
    expect(unit).not.toMatch(/^User=/m);
    for (const f of fs.readdirSync('deploy/systemd').filter((n) => /^canopy-(?!error).*\.service$/.test(n))) {
      const t = fs.readFileSync(path.join('deploy/systemd', f), 'utf8');
      expect(t, f).not.toMatch(/ReadWritePaths=.*canopy-failures/);
    }
  });
});
