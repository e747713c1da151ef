import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import { validateDevicesConfig } from '../../../src/cea/control/config.js';
import { ProgramLoader } from '../../../src/services/automation/programs.js';
import { ControlRecorder } from '../../../src/services/automation/recorder.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { Logger } from '../../../src/util/log.js';
import { startPostgres, type TestPostgres } from '../../support/postgres.js';
import { tempDir } from '../../support/tmp.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;

const cfg = validateDevicesConfig(
  {
    safety: { minOnS: 0, minOffS: 0, maxOnS: 0, maxStarts: 0 },
    devices: [
      {
        name: 'lights_f',
        location: 'Flower Room',
        cluster: 'front',
        kind: 'lights',
        output: { address: 0x20, port: 'A', pin: 0 },
        safeState: 0,
        control: { type: 'schedule', on: '06:00', off: '18:00' },
      },
      {
        name: 'fan_f',
        location: 'Flower Room',
        cluster: 'front',
        kind: 'exhaust_fan',
        output: { address: 0x20, port: 'A', pin: 1 },
        safeState: 0,
      },
    ],
  },
  'test',
);

let pgServer: TestPostgres;
beforeAll(async () => {
  pgServer = await startPostgres();
}, 120_000);

const backends: Array<[string, () => Promise<Store>]> = [
  ['SQLite', () => openStore(`sqlite:${path.join(tempDir(), 'canopy.db')}`)],
  ['PostgreSQL', async () => openStore(await pgServer.createDatabase())],
];

describe.each(backends)('schedules and rules loaded from %s', (_name, open) => {
  const opened: Store[] = [];
  afterAll(async () => {
    for (const s of opened) await s.close();
  });

  it('seeds once from the devices file, then loads what the tables hold; invalid and disabled rows are skipped', async () => {
    const store = await open();
    opened.push(store);
    const loader = new ProgramLoader(new ControlRecorder(store, log, 100), cfg, log);
    const first = await loader.load();
    expect(first.seeded).toBe(1);
    expect(first.programs.lighting).toEqual([
      { id: 'lights-lights_f', type: 'lighting', device: 'lights_f', on: '06:00', off: '18:00' },
    ]);
    expect((await store.listConfigs('schedules'))[0]).toMatchObject({ by: 'devices.yaml', enabled: true });

    await store.deleteConfig('schedules', 'lights-lights_f');
    await store.putConfig('rules', {
      id: 'hot',
      config: { sensor: 'dry_bulb_f', above: 28, forMin: 5, device: 'fan_f', state: 1 },
      enabled: true,
      by: 'op',
    });
    await store.putConfig('rules', {
      id: 'ghost',
      config: { sensor: 'dry_bulb_f', above: 28, forMin: 5, device: 'nope', state: 1 },
      enabled: true,
      by: 'op',
    });
    await store.putConfig('rules', {
      id: 'off',
      config: { sensor: 'dry_bulb_f', below: 10, forMin: 1, device: 'fan_f', state: 0 },
      enabled: false,
      by: 'op',
    });
    const second = await loader.load();
    expect(second.seeded).toBe(0); // a deleted seed is not put back while running
    expect(second.programs.lighting).toEqual([]);
    expect(second.programs.rules.map((r) => r.id)).toEqual(['hot']);
    expect(second.rejected).toEqual([expect.stringContaining('rule ghost: /device no device named "nope"')]);
  });
});
