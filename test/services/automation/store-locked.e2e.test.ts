import path from 'node:path';
import Database from 'better-sqlite3';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { start, type AutomationHandle } from '../../../src/services/automation/index.js';
import { openStore } from '../../../src/store/index.js';
import type { Logger } from '../../../src/util/log.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { until, writeDevices } from './helpers.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;
const LOCK_MS = 30_000;

describe('control never waits for the database', () => {
  let handle: AutomationHandle | undefined;
  let locker: Database.Database | undefined;
  afterAll(async () => {
    if (locker?.inTransaction) locker.exec('ROLLBACK');
    locker?.close();
    await handle?.stop();
  });

  it('with the SQLite store locked for 30 s while readings flow, relay decisions keep happening on time and the history arrives after', async () => {
    const redis = await startRedis();
    const cli = createClient({ url: redis.url });
    await cli.connect();
    const dir = tempDir();
    const file = path.join(dir, 'canopy.db');
    const sim = new Mcp23017Simulator({ addresses: [0x20, 0x21] });
    handle = await start({
      devicesFile: writeDevices(dir),
      bus: sim,
      redisUrl: redis.url,
      databaseUrl: `sqlite:${file}`,
      tickMs: 100,
      logger: log,
      env: {},
    });
    const heaterOn = () => sim.output(0x20, 'A', 0) === 0; // active-low
    const reading = (t: number) =>
      cli.publish(
        'sensor:update',
        JSON.stringify({ sensor_data: { dry_bulb_f: t }, timestamp: new Date().toISOString() }),
      );
    const reader = await openStore(`sqlite:${file}`, { sweepIntervalMs: 0 });
    const heaterRows = async () =>
      (await reader.controlHistory({ device: 'heater_f', limit: 1000 })).filter((r) => r.source === 'rule');
    // the store works: the start-up rows are there
    await until(async () => (await reader.controlHistory({ limit: 10 })).length > 0, 'start-up history');

    // another connection takes the write lock and keeps it
    locker = new Database(file);
    locker.exec('BEGIN EXCLUSIVE');
    const lockedAt = Date.now();
    const rowsBefore = (await heaterRows()).length;
    const lags: number[] = [];
    let want = !heaterOn();
    while (Date.now() - lockedAt < LOCK_MS) {
      const sent = Date.now();
      await reading(want ? 18 : 26);
      await until(() => heaterOn() === want, `heater ${want ? 'on' : 'off'} while the store is locked`, 15_000);
      lags.push(Date.now() - sent);
      want = !want;
      await new Promise((r) => setTimeout(r, 300));
    }
    const decisions = lags.length;
    expect(decisions).toBeGreaterThanOrEqual(10);
    // the recorder tried, failed (SQLITE_BUSY) and kept the rows
    const st = handle.recorder.stats;
    expect(st.failed).toBeGreaterThan(0);
    expect(st.queued).toBeGreaterThanOrEqual(decisions);
    expect(st.dropped).toBe(0);
    expect((await heaterRows()).length).toBe(rowsBefore);
    // no decision waited for the store: a 2 s bound is far below the busy waits a blocking write would add
    expect(Math.max(...lags)).toBeLessThan(2000);

    locker.exec('ROLLBACK');
    // every decision taken meanwhile reaches the history, in order
    await until(async () => (await heaterRows()).length >= rowsBefore + decisions, 'history after the lock', 30_000);
    const rows = (await heaterRows()).slice(0, decisions).reverse();
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.toState).not.toBe(rows[i - 1]!.toState);
    expect(handle.recorder.stats.queued).toBe(0);

    // a clean stop records the final transition of a device that was on: its on-time ends there
    await reading(18);
    await until(heaterOn, 'heater on before the stop');
    await handle.stop();
    handle = undefined;
    const last = (await reader.controlHistory({ device: 'heater_f', limit: 1 }))[0]!;
    expect(last).toMatchObject({ source: 'shutdown', fromState: 1, toState: 0 });
    const onTime = JSON.parse((await cli.hGet('automation:state', '_ontime'))!) as Record<
      string,
      Record<string, number>
    >;
    expect(Object.values(onTime.heater_f ?? {}).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    await reader.close();
    await cli.close();
  }, 120_000);
});
