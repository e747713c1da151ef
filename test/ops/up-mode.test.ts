/**
 * How `canopy up` chooses one process for everything (`--compact`) or one
 * per service: flags, then CANOPY_UP_COMPACT, then the machine's memory.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/bus/errors.js';
import { COMPACT_AUTO_MAX_BYTES, upMode } from '../../src/ops/services-list.js';
import { spawnSync } from '../support/run-sync.js';
import { tempDir } from '../support/tmp.js';

const GiB = 1024 ** 3;

describe('canopy up: compact or separate', () => {
  it('is compact by itself on a machine with 4 GiB or less (every Pi 3 and 4 up to 4 GB) and one worker, separate above', () => {
    expect(upMode({ totalMemBytes: 0.9 * GiB, workers: 1 })).toMatchObject({
      compact: true,
      why: /0\.9 GiB.*--separate/,
    });
    // a 4 GB Pi 4 reports about 3.7 GiB
    expect(upMode({ totalMemBytes: 3.7 * GiB, workers: 1 }).compact).toBe(true);
    expect(COMPACT_AUTO_MAX_BYTES).toBe(4 * GiB);
    expect(upMode({ totalMemBytes: COMPACT_AUTO_MAX_BYTES, workers: 1 }).compact).toBe(true);
    expect(upMode({ totalMemBytes: COMPACT_AUTO_MAX_BYTES + 1, workers: 1 })).toMatchObject({
      compact: false,
      why: /--compact/,
    });
    expect(upMode({ totalMemBytes: 8 * GiB, workers: 1 }).compact).toBe(false);
    // more than one worker needs processes of their own, small machine or not
    expect(upMode({ totalMemBytes: GiB, workers: 2 })).toEqual({ compact: false, why: '2 workers' });
  });

  it('a flag wins over the environment, the environment over the memory; both flags are refused', () => {
    expect(upMode({ compact: true, env: false, totalMemBytes: 8 * GiB, workers: 1 })).toEqual({
      compact: true,
      why: '--compact',
    });
    expect(upMode({ separate: true, env: true, totalMemBytes: GiB, workers: 1 })).toEqual({
      compact: false,
      why: '--separate',
    });
    expect(upMode({ env: false, totalMemBytes: GiB, workers: 1 })).toEqual({
      compact: false,
      why: 'CANOPY_UP_COMPACT=0',
    });
    expect(upMode({ env: true, totalMemBytes: 8 * GiB, workers: 1 })).toEqual({
      compact: true,
      why: 'CANOPY_UP_COMPACT=1',
    });
    expect(() => upMode({ compact: true, separate: true, totalMemBytes: GiB, workers: 1 })).toThrow(ConfigError);
  });

  it('the CLI refuses --compact with --separate, and a CANOPY_UP_COMPACT or CANOPY_UP_GROUP that is not a switch, before starting anything', () => {
    const cli = path.resolve('dist/src/cli/main.js');
    const env = { ...process.env, REDIS_URL: '', CANOPY_DATA_DIR: tempDir('canopy-up-mode-') };
    const both = spawnSync(process.execPath, [cli, 'up', '--compact', '--separate'], { env, encoding: 'utf8' });
    expect(both.status).toBe(1);
    expect(both.stderr).toMatch(/--compact and --separate exclude each other/);
    const bad = spawnSync(process.execPath, [cli, 'up'], {
      env: { ...env, CANOPY_UP_COMPACT: 'maybe' },
      encoding: 'utf8',
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/CANOPY_UP_COMPACT must be 1 or 0/);
    const group = spawnSync(process.execPath, [cli, 'up'], {
      env: { ...env, CANOPY_UP_GROUP: 'nope' },
      encoding: 'utf8',
    });
    expect(group.status).toBe(1);
    expect(group.stderr).toMatch(/CANOPY_UP_GROUP must be 1 or 0/);
  });
});
