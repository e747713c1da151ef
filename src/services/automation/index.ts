import { Connection } from '../../bus/connection.js';
import type { OnTimeDay } from '../../cea/control/accounting.js';
import { instant, systemClock, type Clock } from '../../cea/control/clock.js';
import type { ControlConfig } from '../../cea/control/config.js';
import type { ControlEngine, DeviceStatus } from '../../cea/control/engine.js';
import type { I2CBus } from '../../hw/i2c.js';
import { Mcp23017Simulator } from '../../hw/mcp23017-sim.js';
import { RelayBank } from '../../hw/relays.js';
import { createLogger, type Logger } from '../../util/log.js';
import type { ServiceHandle } from '../types.js';
import { loadDevices, openBus, relaySpecs } from './hardware.js';
import { resolveAutomationOptions, type AutomationOptions } from './options.js';
import type { ControlRecorder, ControlStore, StoreSource } from './recorder.js';
import { AutomationRuntime, type AutomationStats } from './runtime.js';
import { openStore } from '../../store/index.js';

export { driveSafeState } from './hardware.js';
export { resolveAutomationOptions, type AutomationOptions } from './options.js';
export type { ControlStore } from './recorder.js';
export type { AutomationStats } from './runtime.js';
export { deviceUpdate } from './updates.js';

/** What `start` may be given besides options (tests and the benchmark inject parts). */
export interface AutomationStartConfig extends Partial<AutomationOptions> {
  /** @defaultValue opened from `i2c` */
  bus?: I2CBus;
  /**
   * Where device states, control history and setpoints go.
   * @defaultValue the store of `databaseUrl` (src/store), opened in the background; `null`: none
   */
  store?: ControlStore | null;
  /** @defaultValue `createLogger('automation')` */
  logger?: Logger;
  /**
   * Monotonic and wall clocks (durations on the first, schedules and timestamps on the second).
   * @defaultValue `performance.now` and `Date.now`
   */
  clock?: Clock;
}

export interface AutomationHandle extends ServiceHandle {
  engine: ControlEngine;
  bank: RelayBank;
  config: ControlConfig;
  stats(): AutomationStats;
  status(): DeviceStatus[];
  onTime(): Record<string, OnTimeDay[]>;
  /** Resolves once every change decided so far is written, published and queued for the store. */
  idle(): Promise<void>;
  recorder: ControlRecorder;
}

/**
 * Starts the automation: every relay to its safe state first, then the
 * persisted modes and states restored, then closed-loop control from live
 * readings (`sensor:update` + the live keys), commands from
 * the `actuators:commands` stream only, a periodic tick for
 * schedules, expiries and the stale-data failsafe.
 */
export async function start(config: AutomationStartConfig = {}): Promise<AutomationHandle> {
  const { bus: givenBus, store, logger, clock: givenClock, ...opts } = config;
  const o = resolveAutomationOptions(opts);
  const log = logger ?? createLogger('automation');
  const clock = givenClock ?? systemClock();
  const cfg = loadDevices(o.devicesFile);
  const bus = givenBus ?? (await openBus(o.i2c));
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  if (!givenBus) cleanup.push(() => bus.close());
  // 1. Safe state before anything else — even before Redis is reached.
  const { bank, failed } = await RelayBank.open(bus, relaySpecs(cfg));
  for (const f of failed) log.error({ code: f.code }, `output chip not ready: ${f.message}`);
  log.info({ devices: cfg.devices.length, i2c: o.i2c.replace(/^sim:.*/, 'sim:…') }, 'every output in its safe state');
  try {
    const conn = await Connection.connect({
      ...(o.redisUrl ? { url: o.redisUrl } : {}),
      clientName: 'canopy-automation',
    });
    cleanup.push(() => conn.close());
    conn.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
    const source: StoreSource | undefined = store === null ? undefined : (store ?? (() => openStore(o.databaseUrl)));
    const simulated = bus instanceof Mcp23017Simulator || /^sim(:|$)/.test(o.i2c);
    const svc = new AutomationRuntime(o, { cfg, bank, conn, store: source, log, clock, simulated });
    cleanup.push(() => svc.close());
    await svc.begin();
    return {
      engine: svc.engine,
      bank,
      config: cfg,
      recorder: svc.recorder,
      stats: () => svc.stats(),
      status: () => svc.engine.status(),
      onTime: () => svc.account.report(instant(clock)),
      idle: () => svc.idle(),
      async stop() {
        await runAll(cleanup.reverse());
        cleanup.length = 0;
      },
    };
  } catch (err) {
    await bank.allSafe().catch(() => undefined);
    await runAll(cleanup.reverse());
    throw err;
  }
}

async function runAll(fns: Array<() => Promise<unknown> | unknown>): Promise<void> {
  for (const f of fns) {
    try {
      await f();
    } catch {
      // keep closing the rest
    }
  }
}
