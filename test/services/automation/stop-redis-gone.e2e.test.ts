/**
 * Stopping the automation while Redis does not answer (frozen: stopped by
 * SIGSTOP, as a server stalled on its disk or swapped out looks; or gone):
 * stopping its command consumer then waits out Redis timeouts, and the
 * outputs must not wait with it — a heater that is on goes off at once, and
 * nothing queued turns it on again before the stop completes.
 */
import path from 'node:path';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { start, type AutomationHandle } from '../../../src/services/automation/index.js';
import type { Logger } from '../../../src/util/log.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { publishSensorUpdate, until, writeDevices } from './helpers.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;

describe('automation stop with Redis not answering', () => {
  let handle: AutomationHandle | undefined;
  let frozen: number | undefined;
  afterAll(async () => {
    if (frozen) process.kill(frozen, 'SIGCONT');
    await handle?.stop();
  });

  it('drives every output safe before waiting on Redis', async () => {
    const redis = await startRedis();
    const cli = createClient({ url: redis.url });
    await cli.connect();
    const sim = new Mcp23017Simulator({ addresses: [0x20, 0x21] });
    const heaterOn = () => sim.output(0x20, 'A', 0) === 0; // active-low
    const fanOn = () => sim.output(0x20, 'B', 0) === 1;
    handle = await start({
      devicesFile: writeDevices(),
      bus: sim,
      redisUrl: redis.url,
      databaseUrl: `sqlite:${path.join(tempDir(), 'canopy.db')}`,
      tickMs: 100,
      pollMs: 200,
      persistMs: 50,
      logger: log,
    });
    await publishSensorUpdate(cli, { dry_bulb_f: 20.0 }); // heater on, fan off (out of its safe state)
    await until(() => heaterOn() && !fanOn(), 'heater on and fan off');
    cli.destroy();
    frozen = redis.pid as number;
    process.kill(frozen, 'SIGSTOP'); // connections stay open, nothing answers

    let stopped = false;
    const stopping = handle.stop().then(() => (stopped = true));
    // the safe state comes first: well before the consumer's Redis timeouts (5 s) run out
    await until(() => !heaterOn() && fanOn(), 'outputs in their safe state', 2_000);
    expect(stopped).toBe(false);
    await stopping;
    handle = undefined;
    process.kill(frozen, 'SIGCONT');
    frozen = undefined;
    await redis.kill();
    // and nothing queued meanwhile switched them back
    expect(heaterOn()).toBe(false);
    expect(fanOn()).toBe(true);
  }, 60_000);
});
