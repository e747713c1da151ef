import { Connection } from '../../bus/connection.js';
import { Heartbeat } from '../../bus/presence.js';
import { LiveState } from '../../bus/state.js';
import { StreamConsumer, type StreamEntry } from '../../bus/streams/consumer.js';
import { Subscriber } from '../../bus/subscriber.js';
import { Publisher } from '../../bus/topics.js';
import { OnTimeAccount, type OnTimeDay } from '../../cea/control/accounting.js';
import { CommandParser } from '../../cea/control/commands.js';
import type { ControlConfig } from '../../cea/control/config.js';
import type { OnOff } from '../../cea/control/config.js';
import type {
  ControlEvent,
  DeviceChange,
  DeviceSnapshot,
  DeviceStatus,
  EngineSnapshot,
  EvaluateResult,
} from '../../cea/control/engine.js';
import { ControlEngine } from '../../cea/control/engine.js';
import type { I2CBus } from '../../hw/i2c.js';
import { RelayBank } from '../../hw/relays.js';
import { packageVersion } from '../../cli/version.js';
import { createLogger, type Logger } from '../../util/log.js';
import type { ServiceHandle } from '../types.js';
import { claimRelayBus, startLiveness, takeLease } from './guard.js';
import { loadDevicesWithText, relaySpecs } from './hardware.js';
import { RelayBusLockedError } from './lock.js';
import { saveLastGoodDevices } from './relay-bus.js';
import type { ControlWatchdog } from './watchdog.js';
import { resolveAutomationOptions, type AutomationOptions } from './options.js';
import { loadState, saveState } from './persist.js';
import { ControlRecorder, deviceStatesToRestore, type ControlStore, type StoreSource } from './recorder.js';
import { openStore } from '../../store/index.js';

export { driveSafeState } from './hardware.js';
export { resolveAutomationOptions, type AutomationOptions } from './options.js';
export type { ControlStore } from './recorder.js';

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
  /** @defaultValue `Date.now` */
  now?: () => number;
  /** @defaultValue `process.env` — read for option defaults and the watchdog (NOTIFY_SOCKET, CANOPY_WATCHDOG_MS). */
  env?: NodeJS.ProcessEnv;
}

export interface AutomationStats {
  readings: number;
  malformedUpdates: number;
  commands: number;
  rejectedCommands: number;
  changes: number;
  writeFailures: number;
  publishFailures: number;
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
  /** Whether the relays are the simulated chip (no real output switches). */
  simulated: boolean;
  watchdog: ControlWatchdog;
}

/** `device:update` message (SPEC §2). */
export function deviceUpdate(c: Pick<DeviceChange, 'location' | 'cluster' | 'device' | 'to' | 'mode' | 'at'>) {
  return {
    location: c.location,
    cluster: c.cluster,
    device: c.device,
    state: c.to,
    mode: c.mode,
    timestamp: new Date(c.at).toISOString(),
  };
}

/**
 * Starts the automation: the relay bus taken exclusively (a lock file in
 * the data directory, then a Redis lease naming the holder; a second
 * automation on the bus is refused before it touches a relay), every relay
 * to its safe state (also when Redis cannot be reached and start fails), then the
 * persisted modes and states restored, then closed-loop control from live
 * readings (`sensor:update` + the live keys), commands from
 * `control:command` and `actuators:commands`, a periodic tick for
 * schedules, expiries and the stale-data failsafe.
 */
export async function start(config: AutomationStartConfig = {}): Promise<AutomationHandle> {
  const { bus: givenBus, store, logger, now: clock, env: givenEnv, ...opts } = config;
  const env = givenEnv ?? process.env;
  const o = resolveAutomationOptions(opts, env);
  const log = logger ?? createLogger('automation');
  const now = clock ?? Date.now;
  const { cfg, text: devicesText } = loadDevicesWithText(o.devicesFile);
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  // 0. One controller per relay bus (the lock file, before any relay is touched), then the bus itself.
  const claim = await claimRelayBus(o, givenBus);
  cleanup.push(() => claim.release());
  const { bus, simulated } = claim;
  // 1. Redis, and the lease naming this process as the bus's controller: a second automation on this bus
  //    (another data directory, another host on this Redis) is refused before it touches any relay.
  let conn: Connection;
  try {
    conn = await Connection.connect({
      ...(o.redisUrl ? { url: o.redisUrl } : {}),
      clientName: 'canopy-automation',
    });
    cleanup.push(() => conn.close());
    conn.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
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
    const svc = new AutomationRuntime(o, cfg, bank, conn, source, log, now, simulated);
    cleanup.push(() => svc.close());
    await svc.begin();
    // 3. Liveness: READY=1 once relays are safe and the loop runs; pings only while control cycles complete.
    const live = startLiveness(() => svc.idle(), o, env, log);
    cleanup.splice(cleanup.length - 1, 0, () => live.stop());
    return {
      engine: svc.engine,
      bank,
      config: cfg,
      recorder: svc.recorder,
      simulated,
      watchdog: live.watchdog,
      stats: () => svc.stats(),
      status: () => svc.engine.status(),
      onTime: () => svc.account.report(now()),
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

/**
 * A stream entry written field by field (`XADD actuators:commands * device
 * heater_f state 1 mode manual by bob`): numbers typed back.
 */
function fieldsToCommand(f: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...f };
  for (const k of ['state', 'ttl_s', 'value'] as const) {
    if (f[k] !== undefined && f[k] !== '' && Number.isFinite(Number(f[k]))) out[k] = Number(f[k]);
  }
  return out;
}

interface SensorUpdate {
  sensor_data?: unknown;
  timestamp?: unknown;
}

/** The running service; one per process. */
class AutomationRuntime {
  readonly engine: ControlEngine;
  readonly account: OnTimeAccount;
  readonly recorder: ControlRecorder;
  readonly #o: AutomationOptions;
  readonly #cfg: ControlConfig;
  readonly #bank: RelayBank;
  readonly #conn: Connection;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #simulated: boolean;
  readonly #pub: Publisher;
  readonly #live: LiveState;
  readonly #parser = new CommandParser();
  readonly #stats: AutomationStats = {
    readings: 0,
    malformedUpdates: 0,
    commands: 0,
    rejectedCommands: 0,
    changes: 0,
    writeFailures: 0,
    publishFailures: 0,
  };
  #chain: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];
  #sub: Subscriber | undefined;
  #consumer: StreamConsumer | undefined;
  #heartbeat: Heartbeat | undefined;
  #persistTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    o: AutomationOptions,
    cfg: ControlConfig,
    bank: RelayBank,
    conn: Connection,
    store: StoreSource | undefined,
    log: Logger,
    now: () => number,
    simulated = false,
  ) {
    this.#simulated = simulated;
    this.#o = o;
    this.#cfg = cfg;
    this.#bank = bank;
    this.#conn = conn;
    this.#log = log;
    this.#now = now;
    this.engine = new ControlEngine(cfg, now());
    this.account = new OnTimeAccount(this.engine.zone, cfg.devices);
    this.recorder = new ControlRecorder(store, log, o.recordQueueMax);
    this.#pub = new Publisher(conn);
    this.#live = new LiveState(conn, { prefix: o.livePrefix });
  }

  stats(): AutomationStats {
    return { ...this.#stats };
  }

  idle(): Promise<void> {
    return this.#chain;
  }

  async begin(): Promise<void> {
    const t = this.#now();
    // 2. Read what to restore (before the start-up rows below overwrite device_states).
    const persisted = await loadState(this.#conn, this.#o.stateKey);
    if (persisted.bad.length) this.#log.warn({ fields: persisted.bad }, 'unreadable persisted device state skipped');
    if (Object.keys(persisted.snapshot.devices ?? {}).length === 0)
      persisted.snapshot = await this.#fromStore(persisted.snapshot);
    // 3. Tell everyone where the outputs are now: the safe state.
    for (const d of this.engine.status()) {
      const c: DeviceChange = {
        device: d.name,
        location: d.location,
        cluster: d.cluster,
        from: d.state,
        to: d.state,
        fromMode: d.mode,
        mode: d.mode,
        source: 'startup',
        reason: 'automation started: safe state',
        by: 'automation',
        at: t,
      };
      this.#enqueue({ changes: [c], events: [] }, false);
    }
    // 4. Restore the last persisted modes, states, setpoints and on-time.
    const restored = this.engine.restore(persisted.snapshot, t);
    this.account.restore(persisted.onTime);
    for (const r of (await this.#live.read(this.engine.sensors())).filter((x) => x.value !== null && x.ts !== null))
      this.engine.ingest(r.name, Number(r.value), Math.min(r.ts!, t));
    this.#enqueue({ changes: [], events: restored });
    this.#evaluate();
    // 5. Inputs.
    this.#sub = await Subscriber.create(this.#conn, {
      logger: this.#log,
      connection: { clientName: 'canopy-automation-sub' },
    });
    await this.#sub.subscribe<SensorUpdate>('sensor:update', (m) => this.#onSensorUpdate(m), {
      validate: (v) =>
        v !== null && typeof v === 'object' && typeof (v as SensorUpdate).sensor_data === 'object'
          ? { ok: true, value: v as SensorUpdate }
          : { ok: false, error: 'sensor update without sensor_data' },
    });
    this.#sub.on('malformed', () => this.#stats.malformedUpdates++);
    await this.#sub.subscribe<unknown>('control:command', (m) => this.#onCommand(m, 'control:command'));
    this.#consumer = await StreamConsumer.start(this.#conn, (entries) => this.#onStreamCommands(entries), {
      stream: this.#o.commandStream,
      group: this.#o.commandGroup,
      startId: '$',
      logger: this.#log,
      blockMs: 1000,
    });
    this.#timers.push(setInterval(() => this.#evaluate(), this.#o.tickMs));
    this.#timers.push(setInterval(() => void this.#poll(), this.#o.pollMs));
    this.#timers.push(setInterval(() => void this.#checkHardware(), this.#o.checkMs));
    this.#heartbeat = await Heartbeat.start(this.#conn, {
      service: 'automation',
      version: packageVersion(),
      logger: this.#log,
      counters: () => ({ ...this.#stats, recorder: this.recorder.stats, simulatedRelays: this.#simulated }),
    });
  }

  /** Modes and setpoints from the store when Redis lost the state hash (3 s at most: a slow database never delays control). */
  async #fromStore(current: Partial<EngineSnapshot>): Promise<Partial<EngineSnapshot>> {
    try {
      const work = (async () => {
        const s = await this.recorder.store();
        const devices: Record<string, DeviceSnapshot> = {};
        for (const d of await deviceStatesToRestore(s)) {
          const mode = d.mode === 'manual' || d.mode === 'off' ? d.mode : 'auto';
          const state: OnOff = d.state >= 0.5 ? 1 : 0;
          devices[d.device] = {
            mode,
            manualState: state,
            modeExpiresAt: null,
            modeBy: d.by ?? 'store',
            state,
            guard: { on: state === 1, since: d.updatedAt, starts: [] },
          };
        }
        const setpoints = Object.fromEntries(((await s.getSetpoints?.()) ?? []).map((x) => [x.name, x.value]));
        return { devices, setpoints: { ...setpoints, ...current.setpoints } };
      })();
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), 3000).unref());
      const snap = await Promise.race([work, timeout]);
      if (Object.keys(snap.devices).length)
        this.#log.info({ devices: Object.keys(snap.devices).length }, 'modes restored from the store');
      return snap;
    } catch (err) {
      this.#log.warn(
        { err: (err as Error).message },
        'no persisted state in Redis and the store is unavailable: starting in configured modes',
      );
      return current;
    }
  }

  #evaluate(only?: Iterable<string>): void {
    if (this.#closed) return;
    this.#enqueue(this.engine.evaluate(this.#now(), only));
    this.#retryFaults();
  }

  #onSensorUpdate(m: SensorUpdate): void {
    const t = this.#now();
    const parsed = typeof m.timestamp === 'string' ? Date.parse(m.timestamp) : NaN;
    const ts = Number.isFinite(parsed) ? Math.min(parsed, t) : t;
    const touched = new Set<string>();
    for (const [name, value] of Object.entries(m.sensor_data as Record<string, unknown>)) {
      if (typeof value !== 'number') continue;
      if (this.engine.ingest(name, value, ts)) {
        this.#stats.readings++;
        for (const d of this.engine.devicesReading(name)) touched.add(d);
      }
    }
    if (touched.size) this.#evaluate(touched);
  }

  async #poll(): Promise<void> {
    try {
      const t = this.#now();
      for (const r of await this.#live.read(this.engine.sensors())) {
        if (r.value === null || r.ts === null) continue;
        if (this.engine.ingest(r.name, Number(r.value), Math.min(r.ts, t))) this.#stats.readings++;
      }
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'live keys unreadable; controllers fail safe once data is stale');
    }
  }

  async #onStreamCommands(entries: StreamEntry[]): Promise<void> {
    for (const e of entries) {
      const raw = e.fields.command ?? e.fields.json ?? e.fields.data ?? fieldsToCommand(e.fields);
      const sentAt = Number(e.id.split('-')[0]);
      if (Number.isFinite(sentAt) && this.#now() - sentAt > 60_000) {
        this.#reject(`command ${e.id} is older than 60 s; ignored`, undefined);
        continue;
      }
      this.#onCommand(raw, this.#o.commandStream);
    }
    await this.#chain;
  }

  #onCommand(raw: unknown, via: string): void {
    const p = this.#parser.parse(raw);
    if (!p.ok) return this.#reject(`${via}: ${p.error}`, undefined);
    const t = this.#now();
    this.#stats.commands++;
    if (p.kind === 'setpoint') {
      const r = this.engine.setSetpoint(p.command, t);
      if (!r.ok) return this.#reject(`${via}: ${r.error}`, p.command.by);
      this.recorder.setpoint(p.command.setpoint, p.command.value, p.command.by, t);
      void this.#persist();
      this.#enqueue({ changes: [], events: [r.event] });
      return this.#evaluate();
    }
    const r = this.engine.command(p.command, t);
    if (!r.ok) return this.#reject(`${via}: ${r.error}`, p.command.by);
    this.#chain = this.#chain.then(() => this.#persist()); // the new mode is persisted before the relay moves
    this.#enqueue({ changes: [], events: [r.event] });
    this.#evaluate([p.command.device]);
  }

  #reject(message: string, by: string | undefined): void {
    this.#stats.rejectedCommands++;
    this.#log.warn({ by }, `command rejected: ${message}`);
    this.#enqueue({
      changes: [],
      events: [{ type: 'command', message: `rejected: ${message}`, at: this.#now(), ...(by ? { by } : {}) }],
    });
  }

  /** Applies changes in order (hardware, then messages and records); never concurrently. */
  #enqueue(r: EvaluateResult, persist = true): void {
    if (!r.changes.length && !r.events.length) return;
    this.#chain = this.#chain
      .then(() => this.#apply(r, persist))
      .catch((err: unknown) => {
        this.#log.error({ err: (err as Error).message }, 'applying changes failed');
      });
  }

  async #apply(r: EvaluateResult, persist: boolean): Promise<void> {
    const out: Promise<unknown>[] = [];
    for (const c of r.changes) {
      if (c.from !== c.to) {
        try {
          await this.#bank.set(c.device, c.to === 1);
          const ok = this.engine.markFault(c.device, null, c.at);
          if (ok) out.push(this.#event(ok));
        } catch (err) {
          this.#stats.writeFailures++;
          const ev = this.engine.markFault(c.device, (err as Error).message, c.at);
          if (ev) out.push(this.#event(ev));
          this.#log.error({ device: c.device, err: (err as Error).message }, 'relay write failed');
          continue;
        }
      }
      this.#stats.changes++;
      this.account.record(c.device, c.to === 1, c.at);
      this.recorder.change(c);
      out.push(
        this.#pub
          .publishTopic('device:update', [c.location, c.cluster], deviceUpdate(c))
          .catch(() => this.#stats.publishFailures++),
      );
      this.#log.info({ device: c.device, from: c.from, to: c.to, mode: c.mode, source: c.source, by: c.by }, c.reason);
    }
    for (const e of r.events) out.push(this.#event(e));
    // Messages are pipelined on one connection (so they keep their order) and not waited for:
    // the next relay write must not wait for a Redis round trip. Failures are counted.
    void Promise.all(out);
    if (persist && (r.changes.length || r.events.length)) this.#schedulePersist();
  }

  #event(e: ControlEvent): Promise<unknown> {
    const level = e.type === 'failsafe' || e.type === 'fault' ? 'warn' : 'info';
    this.#log[level]({ device: e.device, event: e.type, by: e.by }, e.message);
    if (e.device) {
      const s = this.engine.status().find((d) => d.name === e.device);
      if (s) this.recorder.event(e, s);
    }
    const msg = {
      type: e.type,
      device: e.device ?? null,
      message: e.message,
      by: e.by ?? null,
      timestamp: new Date(e.at).toISOString(),
    };
    return this.#pub.publish(this.#o.eventsChannel, msg).catch(() => this.#stats.publishFailures++);
  }

  #retryFaults(): void {
    if (!this.engine.hasFaults()) return;
    for (const d of this.engine.status()) {
      if (!d.fault) continue;
      this.#chain = this.#chain.then(async () => {
        try {
          await this.#bank.set(d.name, this.engine.status().find((x) => x.name === d.name)!.state === 1);
          const ev = this.engine.markFault(d.name, null, this.#now());
          if (ev) await this.#event(ev);
        } catch {
          // still failing; the event was sent when it started
        }
      });
    }
  }

  async #checkHardware(): Promise<void> {
    const failed = await this.#bank.check();
    for (const f of failed) this.#log.error({ code: f.code }, `output chip check failed: ${f.message}`);
  }

  #schedulePersist(): void {
    if (this.#persistTimer || this.#closed) return;
    this.#persistTimer = setTimeout(() => {
      this.#persistTimer = undefined;
      void this.#persist();
    }, this.#o.persistMs);
  }

  async #persist(): Promise<void> {
    try {
      await saveState(this.#conn, this.#o.stateKey, {
        snapshot: this.engine.snapshot(),
        onTime: this.account.snapshot(),
      });
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'device state not persisted (will retry)');
      this.#schedulePersist();
    }
  }

  /**
   * Stops inputs, drives every output to its safe state and says so, records
   * each device's final transition (history and on-time end there), then
   * persists the state — the modes and states to restore at the next start.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#persistTimer);
    await this.#consumer?.stop().catch(() => undefined);
    await this.#sub?.close().catch(() => undefined);
    await this.#chain;
    const t = this.#now();
    const before = this.engine.status();
    const failed = await this.#bank.allSafe();
    for (const f of failed) this.#log.error({ code: f.code }, `safe state not confirmed: ${f.message}`);
    const out: Promise<unknown>[] = [];
    for (const d of before) {
      const safe = this.#cfg.devices.find((x) => x.name === d.name)!.safeState;
      this.account.record(d.name, safe === 1, t);
      if (d.state === safe) continue;
      const c: DeviceChange = {
        ...d,
        device: d.name,
        from: d.state,
        to: safe,
        fromMode: d.mode,
        source: 'startup',
        reason: 'automation stopped: safe state',
        by: 'automation',
        at: t,
      };
      this.recorder.stopped(c);
      out.push(
        this.#pub.publishTopic('device:update', [d.location, d.cluster], deviceUpdate(c)).catch(() => undefined),
      );
    }
    await Promise.all(out);
    // the engine's snapshot still holds the states to restore; the on-time now includes the final intervals
    await this.#persist();
    await this.recorder.close();
    await this.#heartbeat?.close().catch(() => undefined);
  }
}
