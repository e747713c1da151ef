import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import type { DeviceChange } from '../../../src/cea/control/engine.js';
import { ControlRecorder, type ControlStore } from '../../../src/services/automation/recorder.js';
import { openStore } from '../../../src/store/index.js';
import type { SqliteStore } from '../../../src/store/sqlite/store.js';
import type { Logger } from '../../../src/util/log.js';
import { tempDir } from '../../support/tmp.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;

function change(i: number): DeviceChange {
  return {
    device: 'heater_f',
    location: 'Flower Room',
    cluster: 'front',
    from: (i % 2) as 0 | 1,
    to: ((i + 1) % 2) as 0 | 1,
    fromMode: 'auto',
    mode: 'auto',
    source: 'rule',
    reason: `row ${i}`,
    by: 'automation',
    at: 1_700_000_000_000 + i,
  };
}

describe('control history batches', () => {
  it('writes queued rows to SQLite in transactions of up to 200 rows, in order, none lost', async () => {
    const store = (await openStore(`sqlite:${path.join(tempDir(), 'c.db')}`, { sweepIntervalMs: 0 })) as SqliteStore;
    const sizes: number[] = [];
    const counting: ControlStore = Object.assign(Object.create(store) as ControlStore, {
      writeControlBatch: (fn: Parameters<NonNullable<ControlStore['writeControlBatch']>>[0]) =>
        store.writeControlBatch(async (w) => {
          let n = 0;
          await fn({
            setDeviceState: (s) => (n++, w.setDeviceState(s)),
            setSetpoint: (s) => (n++, w.setSetpoint(s)),
          });
          sizes.push(n);
        }),
    });
    const rec = new ControlRecorder(counting, log, 10_000);
    for (let i = 0; i < 450; i++) rec.change(change(i));
    await rec.flush();
    expect(rec.stats).toMatchObject({ recorded: 450, failed: 0, dropped: 0, queued: 0 });
    expect(Math.max(...sizes)).toBeLessThanOrEqual(200);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(450);
    expect(sizes.length).toBeLessThan(450 / 2); // batched, not one commit per row
    const rows = await store.controlHistory({ device: 'heater_f', limit: 1000 });
    expect(rows).toHaveLength(450);
    expect(rows.map((r) => r.reason)).toEqual(Array.from({ length: 450 }, (_, i) => `row ${449 - i}`));
    await store.close();
  });
});
