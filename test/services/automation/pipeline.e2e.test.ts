import path from 'node:path';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { start, type AutomationHandle } from '../../../src/services/automation/index.js';
import { start as startWorker, type WorkerHandle } from '../../../src/services/worker/index.js';
import { openStore } from '../../../src/store/index.js';
import type { Logger } from '../../../src/util/log.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { collect, until, writeDevices } from './helpers.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;

/** A PT100 frame of node 1 (Flower Room / front) as the scanner writes it to `can:raw`. */
function pt100(dryC: number, wetC: number): Record<string, string> {
  const b = Buffer.alloc(5);
  b.writeInt16LE(Math.round(dryC * 100), 0);
  b.writeInt16LE(Math.round(wetC * 100), 2);
  const data = [...b].map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join(' ');
  return { id: '0x101', data, ts: String(Date.now()), dlc: '5' };
}

describe('frames in → relay registers → device:update → control history (worker + automation)', () => {
  let worker: WorkerHandle;
  let automation: AutomationHandle;
  let cli: RedisClientType;
  let databaseUrl: string;
  const sim = new Mcp23017Simulator({ addresses: [0x20, 0x21] });
  const heaterOn = () => sim.output(0x20, 'A', 0) === 0; // active-low

  beforeAll(async () => {
    const redis = await startRedis();
    databaseUrl = `sqlite:${path.join(tempDir(), 'canopy.db')}`;
    cli = createClient({ url: redis.url });
    await cli.connect();
    worker = await startWorker({ redisUrl: redis.url, databaseUrl, logger: log });
    automation = await start({
      devicesFile: writeDevices(),
      bus: sim,
      redisUrl: redis.url,
      databaseUrl,
      tickMs: 100,
      logger: log,
    });
  });

  afterAll(async () => {
    await automation?.stop();
    await worker?.stop();
    await cli?.close();
  });

  it('a cold reading switches the heater on, a warm one off, each with a device:update and a history row', async () => {
    const sub = await collect(cli.options!.url!, ['device:update:Flower Room:front']);
    // within the validation's rate-of-change limit (2 °C/s) and across the band 21.5–22.5
    await cli.xAdd('can:raw', '*', pt100(21.0, 17.0));
    await until(heaterOn, 'heater on from a CAN frame');
    await cli.xAdd('can:raw', '*', pt100(22.9, 18.9));
    await until(() => !heaterOn(), 'heater off from a CAN frame');
    await until(() => sub.got.filter((g) => g.message.device === 'heater_f').length >= 2, 'device updates');
    expect(sub.got.filter((g) => g.message.device === 'heater_f').map((g) => g.message.state)).toEqual([1, 0]);
    await automation.idle();
    await automation.recorder.flush();
    const store = await openStore(databaseUrl);
    const rows = (await store.controlHistory({ device: 'heater_f', limit: 100 })).filter((r) => r.source === 'rule');
    expect(rows.map((r) => [r.fromState, r.toState])).toEqual(
      expect.arrayContaining([
        [0, 1],
        [1, 0],
      ]),
    );
    expect(rows.find((r) => r.toState === 1)!.reason).toMatch(/dry_bulb_f 21 < 21.5/);
    await store.close();
    await sub.close();
  });

  it('frames stop → the heater goes to its safe state within the stale limit, with an event', async () => {
    const ev = await collect(cli.options!.url!, ['automation:events']);
    await cli.xAdd('can:raw', '*', pt100(21.0, 17.0));
    await until(heaterOn, 'heater on');
    await until(() => !heaterOn(), 'failsafe after frames stopped');
    await until(() => ev.got.some((g) => g.message.type === 'failsafe' && g.message.device === 'heater_f'), 'event');
    expect(String(ev.got.find((g) => g.message.type === 'failsafe')!.message.message)).toMatch(/dry_bulb_f is stale/);
    await ev.close();
  });
});
