import type { Connection } from '../../bus/connection.js';
import { Heartbeat } from '../../bus/presence.js';
import { LiveState } from '../../bus/state.js';
import { StreamConsumer, type StreamEntry } from '../../bus/streams/consumer.js';
import { Subscriber } from '../../bus/subscriber.js';
import { Publisher } from '../../bus/topics.js';
import { OnTimeAccount } from '../../cea/control/accounting.js';
import { CommandParser } from '../../cea/control/commands.js';
import type { ControlConfig, OnOff } from '../../cea/control/config.js';
import type {
  ControlEvent,
  DeviceChange,
  DeviceSnapshot,
  EngineSnapshot,
  EvaluateResult,
} from '../../cea/control/engine.js';
import { ControlEngine } from '../../cea/control/engine.js';
import type { RelayBank } from '../../hw/relays.js';
import { packageVersion } from '../../cli/version.js';
import type { Logger } from '../../util/log.js';
import type { AutomationOptions } from './options.js';
import { loadState, saveState } from './persist.js';
import { ControlRecorder, type StoreSource } from './recorder.js';
import { deviceUpdate, fieldsToCommand } from './updates.js';

export interface AutomationStats {
  readings: number;
  malformedUpdates: number;
  commands: number;
  rejectedCommands: number;
  changes: number;
  writeFailures: number;
  publishFailures: number;
}

interface SensorUpdate {
  sensor_data?: unknown;
  timestamp?: unknown;
}

/** The running service; one per process. */
export class AutomationRuntime {
  readonly engine: ControlEngine;
  readonly account: OnTimeAccount;
  readonly recorder: ControlRecorder;
  readonly #o: AutomationOptions;
  readonly #cfg: ControlConfig;
  readonly #bank: RelayBank;
  readonly #conn: Connection;
  readonly #log: Logger;
  readonly #now: () => number;
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
  ) {
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
      counters: () => ({ ...this.#stats, recorder: this.recorder.stats }),
    });
  }

  /** Modes and setpoints from the store when Redis lost the state hash (3 s at most: a slow database never delays control). */
  async #fromStore(current: Partial<EngineSnapshot>): Promise<Partial<EngineSnapshot>> {
    try {
      const work = (async () => {
        const s = await this.recorder.store();
        const devices: Record<string, DeviceSnapshot> = {};
        for (const d of (await s.getDeviceStates?.()) ?? []) {
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

  /** Stops inputs, persists the state, then drives every output to its safe state and says so. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#persistTimer);
    await this.#consumer?.stop().catch(() => undefined);
    await this.#sub?.close().catch(() => undefined);
    await this.#chain;
    await this.#persist();
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
      // Published, not written to device_states: the store keeps the state to restore at the next start.
      out.push(
        this.#pub.publishTopic('device:update', [d.location, d.cluster], deviceUpdate(c)).catch(() => undefined),
      );
    }
    await Promise.all(out);
    await this.recorder.close();
    await this.#heartbeat?.close().catch(() => undefined);
  }
}
