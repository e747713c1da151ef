import { formatDuration, type Instant } from './clock.js';
import type { CycleCommand, DeviceCommand, SetpointCommand } from './commands.js';
import { manualOnRefusal } from './checks.js';
import { GrowCycles } from './cycles.js';
import { commandAnswer, deviceDetail, wallOf } from './details.js';
import type { ControlConfig, OnOff } from './config.js';
import type { ControlInputs, Reading } from './controllers.js';
import { newMemory } from './controllers.js';
import { decideDevice, type DecideContext } from './decide.js';
import { manualExpiry } from './limits.js';
import { restoreDevice, snapshotDevice } from './persisted.js';
import { ProgramState } from './program-state.js';
import type { Programs } from './programs.js';
import { RelayGuard } from './safety.js';
import type { TargetRef } from './schema.js';
import { ZoneClock } from './timezone.js';
import type {
  CommandAnswer,
  ControlEvent,
  Runtime,
  DeviceNotice,
  DeviceSnapshot,
  DeviceStatus,
  EngineSnapshot,
  EvaluateResult,
} from './types.js';

export type {
  ChangeSource,
  CommandAnswer,
  DeviceDetail,
  ControlEvent,
  DeviceChange,
  DeviceNotice,
  DeviceSnapshot,
  DeviceStatus,
  EngineSnapshot,
  EvaluateResult,
  EventType,
} from './types.js';

/**
 * The control loop's brain: devices, modes, setpoints, live readings,
 * controllers and per-relay safety. Pure — no I/O, no timers; every method
 * takes the time as an {@link Instant}: durations on its monotonic clock,
 * schedules and written timestamps on its wall clock. The service feeds it
 * readings and commands, calls {@link evaluate} and applies the returned
 * changes to the relays in order.
 */
export class ControlEngine {
  readonly config: ControlConfig;
  readonly zone: ZoneClock;
  /** Monotonic ms of the start. */
  readonly startedAt: number;
  readonly #rt = new Map<string, Runtime>();
  readonly #readings = new Map<string, Reading>();
  /** sensor → the last few samples taken (`ts/value`; a sample seen twice, by update and by poll, counts once). */
  readonly #seen = new Map<string, string[]>();
  readonly #setpoints = new Map<string, number>();
  /** sensor → devices reading it; device → devices depending on it (conditions, day, exclusion). */
  readonly #bySensor = new Map<string, string[]>();
  readonly #dependents = new Map<string, Set<string>>();
  /** Schedules and rules from the database (lighting schedules, setpoint schedules, rules). */
  readonly #programs = new ProgramState();
  /** The grow cycle of each room (stage and start), set by operators. */
  readonly #cycles: GrowCycles;
  /** The latest time the engine was given (converts monotonic times to wall-clock times for status). */
  #last: Instant;
  /** What one device's decision reads (decide.ts). */
  readonly #ctx: DecideContext;

  constructor(config: ControlConfig, now: Instant) {
    this.config = config;
    this.zone = new ZoneClock(config.timeZone);
    this.startedAt = now.mono;
    this.#last = now;
    this.#cycles = new GrowCycles(config);
    this.#ctx = {
      zone: this.zone,
      startedAt: this.startedAt,
      programs: this.#programs,
      readings: this.#readings,
      runtime: (name) => this.#rt.get(name),
      setpoint: (ref) => this.#setpoint(ref),
      inputs: (at) => this.#inputs(at),
      notice: (device, reason, at) => this.notice(device, reason, at),
    };
    for (const [n, sp] of Object.entries(config.setpoints)) this.#setpoints.set(n, sp.value);
    for (const d of config.devices) {
      const safe = d.safeState === 1;
      this.#rt.set(d.name, {
        cfg: d,
        guard: new RelayGuard(d.safety, safe, now.mono),
        mem: newMemory(),
        mode: d.initialMode,
        manualState: d.safeState,
        modeExpiresAt: null,
        modeTtlMs: null,
        modeBy: 'config',
        reason: 'startup: safe state',
        failsafe: false,
        limited: false,
        blocked: null,
        blockedWant: false,
        fault: null,
        published: { state: d.safeState, mode: d.initialMode },
        source: 'safety',
        reasonAt: 0,
        held: null,
      });
      for (const s of d.sensors) this.#bySensor.set(s, [...(this.#bySensor.get(s) ?? []), d.name]);
      const deps = new Set<string>(d.exclusive);
      for (const c of d.control?.when ?? []) if ('device' in c) deps.add(c.device);
      if (d.control?.type === 'vpd' && 'device' in d.control.day) deps.add(d.control.day.device);
      for (const dep of deps) {
        const s = this.#dependents.get(dep) ?? new Set<string>();
        s.add(d.name);
        this.#dependents.set(dep, s);
      }
    }
  }

  /** Every sensor some controller or hard limit reads. */
  sensors(): string[] {
    return [...new Set([...this.#bySensor.keys(), ...this.#programs.sensors().keys()])];
  }

  /** Devices whose controller, conditions or hard limit read `sensor`. */
  devicesReading(sensor: string): readonly string[] {
    const byRule = this.#programs.sensors().get(sensor);
    if (!byRule) return this.#bySensor.get(sensor) ?? [];
    return [...new Set([...(this.#bySensor.get(sensor) ?? []), ...byRule])];
  }

  /** The schedules and rules in force. */
  programs(): Programs {
    return this.#programs.programs;
  }

  /**
   * Replaces the schedules and rules (validated by ProgramValidator) at run
   * time; they take effect at the next {@link evaluate}, within every
   * safety limit (a rule acts like a controller: through the relay guard,
   * the hard limits and the failsafe, in auto mode only).
   */
  setPrograms(p: Programs, now: Instant, by: string): ControlEvent {
    this.#last = now;
    this.#programs.set(p);
    const n = `${p.lighting.length} lighting, ${p.setpoints.length} setpoint schedule(s), ${p.rules.length} rule(s)`;
    return { type: 'programs', by, at: now.wall, message: `schedules and rules loaded: ${n}` };
  }

  /**
   * Takes a live reading received at monotonic time `received` (its age is
   * measured from there, whatever its own timestamp says). `sourceTs`, the
   * sample's own timestamp, only identifies it: a sample already taken is
   * ignored. Unknown sensors and non-finite values are ignored too.
   */
  ingest(sensor: string, value: number, received: number, sourceTs?: number): boolean {
    if (
      !(this.#bySensor.has(sensor) || this.#programs.sensors().has(sensor)) ||
      !Number.isFinite(value) ||
      !Number.isFinite(received)
    )
      return false;
    const ts = sourceTs !== undefined && Number.isFinite(sourceTs) ? sourceTs : undefined;
    if (ts !== undefined) {
      // a sample is its timestamp and value: the same one again (by update and by poll) is not news
      const id = `${ts}/${value}`;
      const seen = this.#seen.get(sensor) ?? [];
      if (seen.includes(id)) return false;
      seen.push(id);
      if (seen.length > 4) seen.shift();
      this.#seen.set(sensor, seen);
    }
    const cur = this.#readings.get(sensor);
    if (cur && cur.at > received) return false;
    this.#readings.set(sensor, { value, at: received, ts });
    return true;
  }

  reading(sensor: string): Reading | undefined {
    return this.#readings.get(sensor);
  }

  setpoints(): Record<string, number> {
    return Object.fromEntries(this.#setpoints);
  }

  /**
   * Applies a mode/state command (validated by CommandParser); the change
   * itself happens in {@link evaluate}. A manual or off mode expires after
   * `ttl_s` or the configured default; "until changed" is refused for a
   * heater's or CO2 valve's manual on, a `ttl_s` beyond the configured
   * maximum always.
   */
  command(cmd: DeviceCommand, now: Instant): { ok: true; event: ControlEvent } | { ok: false; error: string } {
    this.#last = now;
    const rt = this.#rt.get(cmd.device);
    if (!rt) return { ok: false, error: `unknown device "${cmd.device}"` };
    const expiry = manualExpiry(cmd, rt.cfg.kind, this.config.manual);
    if (!expiry.ok) return expiry;
    const refused =
      cmd.mode === 'manual' && cmd.state === 1
        ? manualOnRefusal(
            rt,
            (n) => this.#rt.get(n),
            this.#readings,
            (r) => this.#setpoint(r),
          )
        : undefined;
    if (refused) return { ok: false, error: refused };
    const ttlMs = expiry.ttlMs;
    rt.mode = cmd.mode;
    rt.modeBy = cmd.by;
    if (cmd.mode === 'manual') rt.manualState = cmd.state ?? rt.manualState;
    rt.modeExpiresAt = ttlMs === null ? null : now.mono + ttlMs;
    rt.modeTtlMs = ttlMs;
    const what = cmd.mode === 'manual' ? `manual ${cmd.state ? 'on' : 'off'}` : cmd.mode;
    const ttl = ttlMs !== null ? ` for ${formatDuration(ttlMs)}` : cmd.mode === 'auto' ? '' : ' until changed';
    return {
      ok: true,
      event: { type: 'command', device: cmd.device, by: cmd.by, at: now.wall, message: `${what}${ttl}` },
    };
  }

  /**
   * Sets a room's grow cycle: its stage (one every VPD controller there has
   * targets for) selects the VPD targets and the setpoint schedules by stage
   * from the next evaluation on.
   */
  setCycle(cmd: CycleCommand, now: Instant): { ok: true; event: ControlEvent } | { ok: false; error: string } {
    this.#last = now;
    const r = this.#cycles.set(cmd, now.wall);
    if (!r.ok) return r;
    const { location, stage, start } = cmd.cycle;
    return {
      ok: true,
      event: { type: 'cycle', by: cmd.by, at: now.wall, message: `${location}: ${stage} since ${start}` },
    };
  }

  /** The stage in force at a location (its grow cycle's, else the devices file's). */
  stageOf(location: string): string | undefined {
    return this.#cycles.stageOf(location);
  }

  /** What became of an accepted command to `device` after its evaluation (see commandAnswer). */
  answer(device: string, id: string, now: Instant = this.#last): CommandAnswer | undefined {
    const rt = this.#rt.get(device);
    return rt ? commandAnswer(rt, id, now) : undefined;
  }

  /** Changes a setpoint within its configured range. */
  setSetpoint(cmd: SetpointCommand, now: Instant): { ok: true; event: ControlEvent } | { ok: false; error: string } {
    const spec = this.config.setpoints[cmd.setpoint];
    if (!spec) return { ok: false, error: `unknown setpoint "${cmd.setpoint}"` };
    if (!Number.isFinite(cmd.value)) return { ok: false, error: 'setpoint value must be a finite number' };
    if ((spec.min !== undefined && cmd.value < spec.min) || (spec.max !== undefined && cmd.value > spec.max))
      return { ok: false, error: `${cmd.setpoint} must be within [${spec.min ?? '-∞'}, ${spec.max ?? '∞'}]` };
    const old = this.#setpoints.get(cmd.setpoint);
    this.#setpoints.set(cmd.setpoint, cmd.value);
    return {
      ok: true,
      event: {
        type: 'setpoint',
        by: cmd.by,
        at: now.wall,
        message: `${cmd.setpoint} ${old} → ${cmd.value}${spec.unit ? ' ' + spec.unit : ''}`,
      },
    };
  }

  /** Whether some device's relay could not be written (see {@link markFault}). */
  hasFaults(): boolean {
    for (const rt of this.#rt.values()) if (rt.fault !== null) return true;
    return false;
  }

  /** Marks a device whose relay could not be written (counts as possibly on for exclusions). `at`: wall-clock ms. */
  markFault(device: string, message: string | null, at: number): ControlEvent | undefined {
    const rt = this.#rt.get(device);
    if (!rt || rt.fault === message) return undefined;
    rt.fault = message;
    return { type: 'fault', device, at, message: message ?? 'output verified again' };
  }

  /** A device's state for a message about it (a refused command). */
  notice(device: string, reason: string, now: Instant): DeviceNotice | undefined {
    const rt = this.#rt.get(device);
    if (!rt) return undefined;
    const d = rt.cfg;
    const state: OnOff = rt.guard.on ? 1 : 0;
    const detail = deviceDetail(rt, now);
    return { device, location: d.location, cluster: d.cluster, state, mode: rt.mode, reason, at: now.wall, detail };
  }

  /**
   * Decides every device (or `only` those, plus whatever depends on a device
   * that changed) and returns the changes to apply, in order, events and
   * hold-backs.
   */
  evaluate(now: Instant, only?: Iterable<string>): EvaluateResult {
    this.#last = now;
    const out: Required<EvaluateResult> = { changes: [], events: [], notices: [] };
    const scheduled = this.#scheduleSetpoints(now, out.events);
    this.#programs.update(
      now.mono,
      (s) => this.#readings.get(s),
      (d) => this.#rt.get(d)?.cfg.safety.staleAfterMs ?? 0,
    );
    let todo = only && !scheduled ? new Set(only) : new Set(this.#rt.keys());
    for (let pass = 0; pass < 4 && todo.size; pass++) {
      const next = new Set<string>();
      for (const rt of this.#rt.values()) {
        if (!todo.has(rt.cfg.name)) continue;
        const ch = decideDevice(rt, this.#ctx, now, out);
        if (ch) {
          out.changes.push(ch);
          for (const d of this.#dependents.get(rt.cfg.name) ?? []) next.add(d);
        }
      }
      todo = next;
    }
    // what the dashboard shows beside each device, as the evaluation leaves it
    for (const x of [...out.changes, ...out.notices]) {
      const rt = this.#rt.get(x.device);
      if (rt) x.detail = deviceDetail(rt, now);
    }
    return out;
  }

  /** Moves setpoints to what their schedules ask for now; true when one changed. */
  #scheduleSetpoints(now: Instant, events: ControlEvent[]): boolean {
    let changed = false;
    const stageOf = (loc: string) => this.#cycles.stageOf(loc);
    for (const v of this.#programs.setpointValues(this.zone, now.wall, stageOf)) {
      const old = this.#setpoints.get(v.setpoint);
      if (old === v.value) continue;
      this.#setpoints.set(v.setpoint, v.value);
      changed = true;
      const unit = this.config.setpoints[v.setpoint]?.unit;
      const message = `${v.setpoint} ${old} → ${v.value}${unit ? ' ' + unit : ''} (schedule ${v.id}: ${v.why})`;
      events.push({ type: 'setpoint', by: `schedule:${v.id}`, at: now.wall, message });
    }
    return changed;
  }

  #setpoint(ref: TargetRef): number {
    return typeof ref === 'number' ? ref : (this.#setpoints.get(ref) ?? NaN);
  }

  #inputs(now: Instant): ControlInputs {
    return {
      mono: now.mono,
      wall: now.wall,
      reading: (s) => this.#readings.get(s),
      deviceOn: (n) => this.#rt.get(n)?.guard.on ?? false,
      setpoint: (ref: TargetRef) => this.#setpoint(ref),
      stage: (location) => this.#cycles.stageOf(location),
    };
  }

  /** Every device's state; times in wall-clock ms as of the latest time the engine was given. */
  status(): DeviceStatus[] {
    const now = this.#last;
    const wall = (mono: number) => wallOf(mono, now);
    return [...this.#rt.values()].map((rt) => ({
      name: rt.cfg.name,
      label: rt.cfg.label,
      location: rt.cfg.location,
      cluster: rt.cfg.cluster,
      kind: rt.cfg.kind,
      state: rt.guard.on ? 1 : 0,
      mode: rt.mode,
      modeExpiresAt: rt.modeExpiresAt === null ? null : wall(rt.modeExpiresAt),
      modeBy: rt.modeBy,
      reason: rt.reason,
      failsafe: rt.failsafe,
      blocked: rt.blocked,
      fault: rt.fault,
      since: wall(rt.guard.since),
      source: rt.failsafe ? 'failsafe' : rt.source,
      held: rt.held ? { ...rt.held, until: wall(rt.held.until) } : null,
    }));
  }

  /** What to persist; monotonic times become wall-clock times (monotonic time restarts at a reboot). */
  snapshot(now: Instant = this.#last): EngineSnapshot {
    const devices: Record<string, DeviceSnapshot> = {};
    for (const rt of this.#rt.values()) devices[rt.cfg.name] = snapshotDevice(rt, now);
    return { devices, setpoints: this.setpoints(), cycles: this.#cycles.snapshot() };
  }

  /**
   * Restores persisted modes, manual states, setpoints and relay history
   * (call right after construction, when every relay is in its safe state).
   * A manual or off mode comes back only while its deadline has not passed,
   * never for longer than it was granted nor than `manual.maxExpiryS`.
   * Unknown devices and out-of-range setpoints are skipped. The outputs
   * follow at the next {@link evaluate}, within the safety limits.
   */
  restore(s: Partial<EngineSnapshot>, now: Instant): ControlEvent[] {
    this.#last = now;
    const events: ControlEvent[] = [];
    for (const [name, v] of Object.entries(s.setpoints ?? {})) {
      const spec = this.config.setpoints[name];
      if (
        spec &&
        Number.isFinite(v) &&
        !(spec.min !== undefined && v < spec.min) &&
        !(spec.max !== undefined && v > spec.max)
      )
        this.#setpoints.set(name, v);
    }
    for (const location of this.#cycles.restore(s.cycles))
      events.push({ type: 'cycle', at: now.wall, message: `${location}: saved grow cycle no longer fits; skipped` });
    for (const [name, snap] of Object.entries(s.devices ?? {})) {
      const rt = this.#rt.get(name);
      if (rt && snap) events.push(restoreDevice(rt, snap, now, this.config.manual));
    }
    return events;
  }
}
