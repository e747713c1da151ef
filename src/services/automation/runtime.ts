import type { Connection } from '../../bus/connection.js';
import { LiveState } from '../../bus/state.js';
import { StreamConsumer, type StreamEntry } from '../../bus/streams/consumer.js';
import { Subscriber } from '../../bus/subscriber.js';
import { OnTimeAccount } from '../../cea/control/accounting.js';
import { ClockStepDetector, formatStep, instant, type Clock, type Instant } from '../../cea/control/clock.js';
import { CommandParser } from '../../cea/control/commands.js';
import type { ControlConfig } from '../../cea/control/config.js';
import type { ControlEvent, EvaluateResult } from '../../cea/control/engine.js';
import { ControlEngine } from '../../cea/control/engine.js';
import type { RelayBank } from '../../hw/relays.js';
import type { Logger } from '../../util/log.js';
import type { AutomationOptions } from './options.js';
import { loadState, saveState, stateFromStore } from './persist.js';
import { ControlRecorder } from './recorder.js';
import { ProgramLoader } from './programs.js';
import { takeLive, takeUpdate } from './inputs.js';
import { checkSensorReadings, type SensorReadings } from '../../contracts/updates.js';
import { SENSOR_UPDATE } from '../../contracts/names.js';
import { ServerClock } from './server-clock.js';
import { answerOn, fieldsToCommand } from './updates.js';
import { ControlOutputs } from './outputs.js';
import { reconfigureEngine, ReloadRefusedError } from './reconfigure.js';
import {
  newStats,
  startedChange,
  stoppedChange,
  type AutomationStats,
  type ReloadResult,
  type RuntimeParts,
} from './runtime-parts.js';

/** The running service; one per process. */
export class AutomationRuntime {
  /** Replaced (never mutated into another configuration) by {@link reconfigure}. */
  engine: ControlEngine;
  readonly account: OnTimeAccount;
  readonly recorder: ControlRecorder;
  readonly #o: AutomationOptions;
  #cfg: ControlConfig;
  readonly #bank: RelayBank;
  readonly #conn: Connection;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #steps: ClockStepDetector;
  /** Redis server time minus our monotonic time, taken at start: command ages on the server's clock, never on ours. */
  readonly #server: ServerClock;
  readonly #out: ControlOutputs;
  readonly #live: LiveState;
  readonly #parser = new CommandParser();
  readonly #stats: AutomationStats = newStats();
  #programs: ProgramLoader;
  #programChain: Promise<void> = Promise.resolve();
  #programRetry: NodeJS.Timeout | undefined;
  readonly #hasStore: boolean;
  #chain: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];
  #sub: Subscriber | undefined;
  #consumer: StreamConsumer | undefined;
  #persistTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: AutomationOptions, p: RuntimeParts) {
    this.#o = o;
    this.#cfg = p.cfg;
    this.#bank = p.bank;
    this.#conn = p.conn;
    this.#log = p.log;
    this.#clock = p.clock;
    this.#steps = new ClockStepDetector(o.clockStepMs);
    const t = instant(p.clock);
    this.#steps.observe(t);
    this.#server = new ServerClock(p.clock);
    this.engine = new ControlEngine(p.cfg, t);
    this.account = new OnTimeAccount(this.engine.zone, p.cfg.devices);
    this.recorder = new ControlRecorder(p.store, p.log, o.recordQueueMax);
    this.#hasStore = p.store !== undefined;
    this.#programs = new ProgramLoader(this.recorder, p.cfg, p.log);
    this.#out = new ControlOutputs(p.conn, {
      eventsChannel: o.eventsChannel,
      simulated: p.simulated,
      recorder: this.recorder,
      log: p.log,
      onFailure: () => this.#stats.publishFailures++,
    });
    this.#live = new LiveState(p.conn, { prefix: o.livePrefix });
  }

  /** Now on both clocks. A step of the wall clock is logged and every device re-evaluated at once. */
  now(): Instant {
    const t = instant(this.#clock);
    const step = this.#steps.observe(t);
    if (step !== undefined) {
      this.#stats.clockSteps++;
      this.#log.warn({ stepMs: step }, `clock step: the wall clock moved ${formatStep(step)}; schedules re-evaluated`);
      setImmediate(() => this.#evaluate());
    }
    return t;
  }

  stats(): AutomationStats {
    return { ...this.#stats };
  }

  idle(): Promise<void> {
    return this.#chain;
  }

  async begin(): Promise<void> {
    const t = this.now();
    await this.#server.learn(this.#conn, this.#log);
    // 2. Read what to restore (before the start-up rows below overwrite device_states).
    const persisted = await loadState(this.#conn, this.#o.stateKey);
    if (persisted.bad.length) this.#log.warn({ fields: persisted.bad }, 'unreadable persisted device state skipped');
    if (Object.keys(persisted.snapshot.devices ?? {}).length === 0)
      persisted.snapshot = await stateFromStore(this.recorder, persisted.snapshot, this.#cfg.manual, this.#log);
    // 3. Tell everyone where the outputs are now: the safe state.
    for (const d of this.engine.status()) this.#enqueue({ changes: [startedChange(d, t.wall)], events: [] }, false);
    // 4. Restore the last persisted modes, states, setpoints and on-time.
    const restored = this.engine.restore(persisted.snapshot, t);
    this.account.restore(persisted.onTime);
    await this.#poll();
    this.#enqueue({ changes: [], events: restored });
    this.#evaluate();
    // 5. Inputs.
    this.#sub = await Subscriber.create(this.#conn, {
      logger: this.#log,
      connection: { clientName: 'canopy-automation-sub' },
    });
    await this.#sub.subscribe<SensorReadings>(SENSOR_UPDATE, (m) => this.#onSensorUpdate(m), {
      validate: checkSensorReadings,
    });
    this.#sub.on('malformed', () => this.#stats.malformedUpdates++);
    // Commands come only from the stream (XADD needs a grant the api and operators have);
    // `control:command` is no input: anyone allowed to PUBLISH could switch relays through it.
    this.#consumer = await StreamConsumer.start(this.#conn, (entries) => this.#onStreamCommands(entries), {
      stream: this.#o.commandStream,
      group: this.#o.commandGroup,
      startId: '$',
      logger: this.#log,
      blockMs: 1000,
    });
    if (this.#hasStore) void this.reloadPrograms('startup');
    this.#timers.push(setInterval(() => this.#evaluate(), this.#o.tickMs));
    this.#timers.push(setInterval(() => void this.#poll(), this.#o.pollMs));
    this.#timers.push(setInterval(() => void this.#checkHardware(), this.#o.checkMs));
  }

  /**
   * Applies a new devices configuration while running, between two relay
   * writes (see reconfigure.ts): no output moves because of the swap;
   * a device the new configuration decides otherwise switches as any change
   * does, within its safety limits. A change that needs a restart rejects
   * with ReloadRefusedError and the running configuration stays.
   */
  reconfigure(next: ControlConfig, by: string): Promise<ReloadResult> {
    const done = this.#chain.then(() => this.#swap(next, by));
    this.#chain = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  #swap(next: ControlConfig, by: string): ReloadResult {
    if (this.#closed) throw new ReloadRefusedError('the automation is stopping');
    const { engine, result } = reconfigureEngine(this.engine, next, this.now(), by);
    [this.engine, this.#cfg] = [engine, next];
    this.#programs = new ProgramLoader(this.recorder, next, this.#log);
    this.#enqueue(result);
    this.#retryFaults();
    if (this.#hasStore) void this.reloadPrograms(by);
    return { devices: next.devices.length, setpoints: engine.setpoints() };
  }

  /**
   * Reads the schedules and rules from the store and hands them to the
   * engine (in order, one load at a time); until a first load succeeds it is
   * retried every 10 s, meanwhile the devices file's controllers run.
   */
  reloadPrograms(by: string): Promise<void> {
    clearTimeout(this.#programRetry);
    this.#programChain = this.#programChain.then(async () => {
      if (this.#closed) return;
      try {
        const r = await this.#programs.load();
        this.#stats.programLoads++;
        this.#stats.rejectedPrograms += r.rejected.length;
        const ev = this.engine.setPrograms(r.programs, this.now(), by);
        this.#enqueue({ changes: [], events: [ev] });
        this.#evaluate();
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'schedules and rules not loaded');
        if (!this.#programs.loaded && !this.#closed) {
          this.#programRetry = setTimeout(() => void this.reloadPrograms(by), 10_000);
          this.#programRetry.unref();
        }
      }
    });
    return this.#programChain;
  }

  #evaluate(only?: Iterable<string>): void {
    if (this.#closed) return;
    this.#enqueue(this.engine.evaluate(this.now(), only));
    this.#retryFaults();
  }

  /** A pushed update: each value is a new sample, received now (its age counts from here, whatever its timestamp). */
  #onSensorUpdate(m: SensorReadings): void {
    const r = takeUpdate(this.engine, m, this.now());
    this.#stats.readings += r.taken;
    if (r.touched.size) this.#evaluate(r.touched);
  }

  /** The live keys (see {@link takeLive}). */
  async #poll(): Promise<void> {
    try {
      const got = await this.#live.read(this.engine.sensors());
      this.#stats.readings += takeLive(this.engine, got, this.now());
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'live keys unreadable; controllers fail safe once data is stale');
    }
  }

  async #onStreamCommands(entries: StreamEntry[]): Promise<void> {
    for (const e of entries) {
      const raw = e.fields.command ?? e.fields.json ?? e.fields.data ?? fieldsToCommand(e.fields);
      const sentAt = Number(e.id.split('-')[0]);
      // The entry id is the Redis server's clock; compare it with that clock as we follow it monotonically.
      const age = this.#server.ageOf(sentAt);
      if (Number.isFinite(sentAt) && age > 60_000) {
        this.#reject(`command ${e.id} is older than 60 s; ignored`, undefined, raw);
        continue;
      }
      this.#onCommand(raw, this.#o.commandStream, e.id);
    }
    await this.#chain;
  }

  /** One command; `id`, its stream entry id, goes on the device:update that answers it. */
  #onCommand(raw: unknown, via: string, id?: string): void {
    const p = this.#parser.parse(raw);
    if (!p.ok) return this.#reject(`${via}: ${p.error}`, undefined, raw, id);
    const t = this.now();
    this.#stats.commands++;
    if (p.kind === 'reload') return void this.reloadPrograms(p.command.by);
    if (p.kind === 'setpoint' || p.kind === 'cycle') {
      const r = p.kind === 'setpoint' ? this.engine.setSetpoint(p.command, t) : this.engine.setCycle(p.command, t);
      if (!r.ok) return this.#reject(`${via}: ${r.error}`, p.command.by);
      if (p.kind === 'setpoint') this.recorder.setpoint(p.command.setpoint, p.command.value, p.command.by, t.wall);
      void this.#persist();
      this.#enqueue({ changes: [], events: [r.event] });
      return this.#evaluate();
    }
    const device = p.command.device;
    const r = this.engine.command(p.command, t);
    if (!r.ok) return this.#reject(`${via}: ${r.error}`, p.command.by, p.command, id, r.error);
    this.#chain = this.#chain.then(() => this.#persist()); // the new mode is persisted before the relay moves
    this.#enqueue({ changes: [], events: [r.event] });
    const res = this.engine.evaluate(this.now(), [device]);
    const answer = id !== undefined ? this.engine.answer(device, id) : undefined;
    if (answer) answerOn(res, device, answer, () => this.engine.notice(device, answer.reason, this.now()));
    this.#enqueue(res);
    this.#retryFaults();
  }

  /** Counts, logs and announces a refused command; a known device also gets a device:update saying why. */
  #reject(message: string, by: string | undefined, raw?: unknown, id?: string, why = message): void {
    this.#stats.rejectedCommands++;
    this.#log.warn({ by }, `command rejected: ${message}`);
    const t = this.now();
    const device = raw !== null && typeof raw === 'object' ? (raw as { device?: unknown }).device : undefined;
    const notice = typeof device === 'string' ? this.engine.notice(device, `refused: ${why}`, t) : undefined;
    if (notice && id !== undefined) notice.command = { id, outcome: 'refused', reason: why };
    this.#enqueue({
      changes: [],
      events: [{ type: 'command', message: `rejected: ${message}`, at: t.wall, ...(by ? { by } : {}) }],
      notices: notice ? [notice] : [],
    });
  }

  /** Applies changes in order (hardware, then messages and records); never concurrently. */
  #enqueue(r: EvaluateResult, persist = true): void {
    if (!r.changes.length && !r.events.length && !r.notices?.length) return;
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
        if (this.#closed) continue; // stopping: the outputs stay in the safe state close() put them in
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
      this.account.record(c.device, c.to === 1, this.now());
      this.recorder.change(c);
      out.push(this.#out.change(c));
      this.#log.info({ device: c.device, from: c.from, to: c.to, mode: c.mode, source: c.source, by: c.by }, c.reason);
    }
    for (const e of r.events) out.push(this.#event(e));
    for (const n of r.notices ?? []) out.push(this.#out.notice(n));
    // Messages are pipelined on one connection (so they keep their order) and not waited for:
    // the next relay write must not wait for a Redis round trip. Failures are counted.
    void Promise.all(out);
    if (persist && (r.changes.length || r.events.length)) this.#schedulePersist();
  }

  #event(e: ControlEvent): Promise<unknown> {
    const device = e.device ? this.engine.status().find((d) => d.name === e.device) : undefined;
    return this.#out.event(e, device);
  }

  #retryFaults(): void {
    if (!this.engine.hasFaults()) return;
    for (const d of this.engine.status()) {
      if (!d.fault) continue;
      this.#chain = this.#chain.then(async () => {
        try {
          await this.#bank.set(d.name, this.engine.status().find((x) => x.name === d.name)!.state === 1);
          const ev = this.engine.markFault(d.name, null, this.now().wall);
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
        snapshot: this.engine.snapshot(this.now()),
        onTime: this.account.snapshot(),
      });
    } catch (err) {
      // stopping: no retry (the modes and states of the last save are restored at the next start)
      const when = this.#closed ? 'at stop; the last saved state stays' : 'will retry';
      this.#log.warn({ err: (err as Error).message }, `device state not persisted (${when})`);
      this.#schedulePersist();
    }
  }

  /**
   * Drives every output to its safe state first (before anything that may
   * wait on Redis: with Redis gone, stopping the command consumer waits out
   * its timeouts, and a heater must not stay on meanwhile), then stops
   * inputs, confirms the safe state and says so, records each device's final
   * transition (history and on-time end there), then persists the state —
   * the modes and states to restore at the next start. Changes still queued
   * after the first step no longer reach the outputs.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#programRetry);
    await this.#bank.allSafe().catch(() => undefined); // confirmed (and failures logged) below
    await this.#programChain;
    clearTimeout(this.#persistTimer);
    await this.#consumer?.stop().catch(() => undefined);
    await this.#sub?.close().catch(() => undefined);
    await this.#chain;
    const t = this.now();
    const before = this.engine.status();
    const failed = await this.#bank.allSafe();
    for (const f of failed) this.#log.error({ code: f.code }, `safe state not confirmed: ${f.message}`);
    const out: Promise<unknown>[] = [];
    for (const d of before) {
      const safe = this.#cfg.devices.find((x) => x.name === d.name)!.safeState;
      this.account.record(d.name, safe === 1, t);
      if (d.state === safe) continue;
      const c = stoppedChange(d, safe, t.wall);
      this.recorder.stopped(c);
      out.push(this.#out.change(c));
    }
    await Promise.all(out);
    // the engine's snapshot still holds the states to restore; the on-time now includes the final intervals
    await this.#persist();
    await this.recorder.close();
  }
}
