import type { OnTimeDay } from '../../cea/control/accounting.js';
import { instant, systemClock, type Clock } from '../../cea/control/clock.js';
import type { ControlConfig } from '../../cea/control/config.js';
import type { ControlEngine, DeviceStatus } from '../../cea/control/engine.js';
import type { I2CBus } from '../../hw/i2c.js';
import { Mcp23017Simulator } from '../../hw/mcp23017-sim.js';
import { RelayBank } from '../../hw/relays.js';
import { createLogger, type Logger } from '../../util/log.js';
import { startServiceRuntime, type ServiceRuntime, type ServiceRuntimeOptions } from '../common/runtime.js';
import type { ServiceHandle } from '../types.js';
import { claimRelayBus, startLiveness, takeLease } from './guard.js';
import { loadDevicesWithText, relaySpecs } from './hardware.js';
import { RelayBusLockedError } from './lock.js';
import { saveLastGoodDevices } from './relay-bus.js';
import type { ControlWatchdog } from './watchdog.js';
import { AutomationConfigError, resolveAutomationOptions, type AutomationOptions } from './options.js';
import type { ControlRecorder, ControlStore, StoreSource } from './recorder.js';
import { AutomationRuntime } from './runtime.js';
import type { AutomationStats, ReloadResult } from './runtime-parts.js';
import { openStore } from '../../store/index.js';

export { driveSafeState } from './hardware.js';
export { resolveAutomationOptions, type AutomationOptions } from './options.js';
export type { ControlStore } from './recorder.js';
export type { AutomationStats, ReloadResult } from './runtime-parts.js';
export { ReloadRefusedError } from './reconfigure.js';
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
  /** @defaultValue `process.env` — read for option defaults and the watchdog (NOTIFY_SOCKET, CANOPY_WATCHDOG_MS). */
  env?: NodeJS.ProcessEnv;
  /**
   * @defaultValue `{ connectAttempts: 1 }` — passed to {@link startServiceRuntime} (connection, heartbeat,
   * admin mailbox); one connect attempt: a Redis that is down fails the start at once, outputs safe.
   */
  runtime?: Partial<Omit<ServiceRuntimeOptions, 'service'>>;
}

export interface AutomationHandle extends ServiceHandle {
  /** The engine in force (a reload of the devices file replaces it). */
  readonly engine: ControlEngine;
  bank: RelayBank;
  /** The devices configuration in force. */
  readonly config: ControlConfig;
  /** Re-reads the devices file and applies it (what `canopy admin automation reload-config` runs). */
  reload(by?: string): Promise<ReloadResult>;
  /** Its connection, heartbeat and admin mailbox. */
  runtime: ServiceRuntime;
  stats(): AutomationStats;
  status(): DeviceStatus[];
  onTime(): Record<string, OnTimeDay[]>;
  /** Resolves once every change decided so far is written, published and queued for the store. */
  idle(): Promise<void>;
  recorder: ControlRecorder;
  /** Whether the relays are the simulated chip (no real output switches). */
  simulated: boolean;
  watchdog: ControlWatchdog;
}

/**
 * Starts the automation: the relay bus taken exclusively (a lock file in
 * the data directory, then a Redis lease naming the holder; a second
 * automation on the bus is refused before it touches a relay), every relay
 * to its safe state (also when Redis cannot be reached and start fails), then the
 * persisted modes and states restored, then closed-loop control from live
 * readings (`sensor:update` + the live keys), commands from
 * the `actuators:commands` stream only, a periodic tick for
 * schedules, expiries and the stale-data failsafe.
 */
export async function start(config: AutomationStartConfig = {}): Promise<AutomationHandle> {
  const { bus: givenBus, store, logger, clock: givenClock, env: givenEnv, runtime: rtOpts, ...opts } = config;
  const env = givenEnv ?? process.env;
  const o = resolveAutomationOptions(opts, env);
  const log = logger ?? createLogger('automation');
  const clock = givenClock ?? systemClock();
  const { cfg, text: devicesText } = loadDevicesWithText(o.devicesFile);
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  // 0. One controller per relay bus (the lock file, before any relay is touched), then the bus itself.
  const claim = await claimRelayBus(o, givenBus);
  cleanup.push(() => claim.release());
  const { bus } = claim;
  const simulated = claim.simulated || bus instanceof Mcp23017Simulator;
  // 1. Redis, and the lease naming this process as the bus's controller: a second automation on this bus
  //    (another data directory, another host on this Redis) is refused before it touches any relay.
  let rt: ServiceRuntime;
  const ref: { reload?: (by?: string) => Promise<ReloadResult>; counters?: () => Record<string, unknown> } = {};
  try {
    rt = await startServiceRuntime({
      service: 'automation',
      log,
      connectAttempts: 1,
      deferHeartbeat: true,
      counters: () => ref.counters?.() ?? {},
      ...rtOpts,
      connection: {
        ...(o.redisUrl ? { url: o.redisUrl } : {}),
        clientName: 'canopy-automation',
        ...rtOpts?.connection,
      },
      onReloadConfig: () => {
        if (!ref.reload) throw new AutomationConfigError('the automation is still starting');
        return ref.reload('admin');
      },
      commands: {
        pause: refusePause,
        resume: refusePause,
        ...rtOpts?.commands,
      },
    });
    cleanup.push(() => rt.close());
    const conn = rt.conn;
    const lease = await takeLease(conn, o, claim, log);
    if (lease) cleanup.push(() => lease.release());
  } catch (err) {
    // Not ours to touch when another controller holds it; otherwise (Redis down) the outputs still go safe.
    if (!(err instanceof RelayBusLockedError)) await RelayBank.open(bus, relaySpecs(cfg)).catch(() => undefined);
    await runAll(cleanup.reverse());
    throw err;
  }
  // 2. Every output in its safe state before any input is read.
  const { bank, failed } = await RelayBank.open(bus, relaySpecs(cfg));
  for (const f of failed) log.error({ code: f.code }, `output chip not ready: ${f.message}`);
  log.info(
    { devices: cfg.devices.length, i2c: o.i2c.replace(/^sim:.*/, 'sim:…'), simulated },
    'every output in its safe state',
  );
  if (simulated) log.warn('relays are SIMULATED: no real output switches (CANOPY_I2C selects the real bus)');
  try {
    if (claim.lock) saveLastGoodDevices(o.dataDir, devicesText); // an injected bus: the caller owns the hardware
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'last good devices file not kept (--safe-state falls back to nothing)');
  }
  try {
    const source: StoreSource | undefined =
      store === null ? undefined : (store ?? (() => openStore(o.databaseUrl, { busyTimeoutMs: o.storeBusyTimeoutMs })));
    const svc = new AutomationRuntime(o, { cfg, bank, conn: rt.conn, store: source, log, clock, simulated });
    cleanup.push(() => svc.close());
    await svc.begin();
    ref.counters = () => ({ ...svc.stats(), recorder: svc.recorder.stats, simulatedRelays: simulated });
    await rt.ready(); // the heartbeat says the automation is up once its inputs are (a command sent now is taken)
    let current = cfg;
    ref.reload = async (by = 'admin') => {
      // a broken file throws here (DeviceConfigError listing every problem): the running configuration stays
      const next = loadDevicesWithText(o.devicesFile);
      const r = await svc.reconfigure(next.cfg, by);
      current = next.cfg;
      try {
        if (claim.lock) saveLastGoodDevices(o.dataDir, next.text);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'last good devices file not updated');
      }
      log.info({ devices: r.devices }, 'devices file reloaded');
      return r;
    };
    // 3. Liveness: READY=1 once relays are safe and the loop runs; pings only while control cycles complete.
    const live = startLiveness(() => svc.idle(), o, env, log);
    cleanup.splice(cleanup.length - 1, 0, () => live.stop());
    return {
      get engine() {
        return svc.engine;
      },
      bank,
      get config() {
        return current;
      },
      reload: (by?: string) => ref.reload!(by),
      runtime: rt,
      recorder: svc.recorder,
      simulated,
      watchdog: live.watchdog,
      stats: () => svc.stats(),
      status: () => svc.engine.status(),
      onTime: () => svc.account.report(instant(clock)),
      idle: () => svc.idle(),
      async stop() {
        // nothing below waits for a Redis that is gone; the relays (I2C) go safe first either way
        rt.beginStop();
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

/** Pausing closed-loop control would leave every relay where it is with nobody watching: refused. */
function refusePause(): never {
  throw new AutomationConfigError(
    'the automation cannot be paused: put devices in manual or off mode, or stop it (every output goes safe)',
  );
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
