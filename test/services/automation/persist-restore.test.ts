/**
 * The automation's restore of modes and setpoints from the store when Redis
 * lost its state hash: a real SQLite store, and one that never answers
 * (a database hung on a lock or an unreachable host) — control must not
 * wait on it longer than 3 s.
 */
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import { stateFromStore } from '../../../src/services/automation/persist.js';
import { ControlRecorder, type ControlStore } from '../../../src/services/automation/recorder.js';
import { openStore } from '../../../src/store/index.js';
import type { Logger } from '../../../src/util/log.js';
import { tempDir } from '../../support/tmp.js';

const manual = { defaultExpiryMs: 3_600_000, maxExpiryMs: 86_400_000 };

function recordingLogger(): { log: Logger; warned: string[] } {
  const warned: string[] = [];
  const log = {
    ...silentLogger,
    fatal: () => undefined,
    trace: () => undefined,
    warn: (_o: unknown, msg?: string) => void warned.push(String(msg)),
  } as unknown as Logger;
  return { log, warned };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('automation state restored from the store', () => {
  it('restores a manual mode (with the default expiry from when it was recorded) and the setpoints', async () => {
    const store = await openStore(`sqlite:${path.join(tempDir(), 's.db')}`, { sweepIntervalMs: 0 });
    const at = Date.now() - 60_000;
    await store.setDeviceState!({
      device: 'heater_f',
      state: 1,
      mode: 'manual',
      location: 'Flower Room',
      cluster: 'front',
      by: 'grower',
      updatedAt: at,
      reason: 'by hand',
      source: 'command',
    });
    await store.setSetpoint!({ name: 'temp_day', value: 24.5, by: 'grower', updatedAt: at });
    const { log } = recordingLogger();
    const snap = await stateFromStore(new ControlRecorder(store as ControlStore, log, 10), {}, manual, log);
    expect(snap.devices?.heater_f).toMatchObject({
      mode: 'manual',
      manualState: 1,
      modeExpiresAt: at + manual.defaultExpiryMs,
      modeBy: 'grower',
    });
    expect(snap.setpoints).toEqual({ temp_day: 24.5 });
    await store.close();
  });

  it('gives up on a store that never answers after 3 s and starts in the configured modes, saying why', async () => {
    vi.useFakeTimers();
    let asked = 0;
    const hung = () => {
      asked++;
      return new Promise<ControlStore>(() => undefined);
    };
    const { log, warned } = recordingLogger();
    const current = { setpoints: { temp_day: 23 } };
    let settled: unknown;
    void stateFromStore(new ControlRecorder(hung, log, 10), current, manual, log).then((s) => (settled = s));
    await vi.advanceTimersByTimeAsync(2_900);
    expect(asked).toBe(1);
    expect(settled).toBeUndefined(); // still within its 3 s
    await vi.advanceTimersByTimeAsync(200);
    expect(settled).toBe(current);
    expect(warned).toEqual(['no persisted state in Redis and the store is unavailable: starting in configured modes']);
  });
});
