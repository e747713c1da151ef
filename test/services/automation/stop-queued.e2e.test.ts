/**
 * A stop while relay writes are queued: the automation writes its outputs
 * one change at a time, so a change decided while a slow I2C write is in
 * flight waits behind it. When the stop comes in between, the outputs go to
 * their safe state and the change still waiting must never reach them —
 * not even for the moment before the stop's final safe-state check.
 */
import path from 'node:path';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import type { I2CBus } from '../../../src/hw/i2c.js';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { start, type AutomationHandle } from '../../../src/services/automation/index.js';
import type { Logger } from '../../../src/util/log.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { publishSensorUpdate, sendCommand, until, writeDevices } from './helpers.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;

describe('automation stop with a relay change still queued', () => {
  let handle: AutomationHandle | undefined;
  afterAll(async () => {
    await handle?.stop();
  });

  it('drives the outputs safe, and the queued change never switches one on', async () => {
    const redis = await startRedis();
    const cli = createClient({ url: redis.url });
    cli.on('error', () => undefined); // a failed assertion leaves it to the harness's Redis cleanup
    await cli.connect();
    const sim = new Mcp23017Simulator({ addresses: [0x20, 0x21] });
    // the chip as a slow bus makes it (a long cable, a busy bus): each write takes `slowMs`
    let slowMs = 0;
    const bus: I2CBus = {
      readByte: (a, r) => sim.readByte(a, r),
      writeByte: async (a, r, v) => {
        if (slowMs > 0) await new Promise((res) => setTimeout(res, slowMs));
        return sim.writeByte(a, r, v);
      },
      close: () => sim.close(),
    };
    const heaterOn = () => sim.output(0x20, 'A', 0) === 0; // active-low
    const lightsOn = () => sim.output(0x20, 'A', 1) === 1;
    handle = await start({
      devicesFile: writeDevices(),
      bus,
      redisUrl: redis.url,
      databaseUrl: `sqlite:${path.join(tempDir(), 'canopy.db')}`,
      tickMs: 100,
      pollMs: 200,
      persistMs: 50,
      i2cTimeoutMs: 10_000,
      logger: log,
    });
    const h = handle;
    const decided = (name: string) => h.status().find((d) => d.name === name)?.state === 1;
    await until(() => !heaterOn() && !lightsOn(), 'heater and lights off');

    slowMs = 1_500;
    await publishSensorUpdate(cli, { dry_bulb_f: 20.0 }); // the heater goes on: a slow write
    await until(() => decided('heater_f'), 'the heater decided on');
    await sendCommand(cli, { device: 'lights_f', state: 1, mode: 'manual', by: 'alice' });
    // the lights are decided on too, but their write waits behind the heater's
    await until(() => decided('lights_f'), 'the lights decided on', 1_200);
    expect(lightsOn()).toBe(false);

    // every output state the chip shows from the stop on
    const lightsAfterStop: boolean[] = [];
    sim.onWrite(() => lightsAfterStop.push(lightsOn()));
    const stopping = h.stop();
    slowMs = 0; // the heater's write in flight ends at its own pace; the stop's own writes need not crawl
    await stopping;
    handle = undefined;

    expect(lightsAfterStop.length).toBeGreaterThan(0);
    expect(lightsAfterStop).not.toContain(true);
    expect(lightsOn()).toBe(false);
    expect(heaterOn()).toBe(false);
    await cli.quit();
    await redis.stop();
  }, 60_000);
});
