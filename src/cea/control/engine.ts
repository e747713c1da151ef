import type { DeviceCommand, SetpointCommand } from './commands.js';
import type { ControlConfig, DeviceConfig, Mode, OnOff } from './config.js';
import type { ControlInputs, ControllerMemory, Reading } from './controllers.js';
import { evaluateControl, newMemory } from './controllers.js';
import type { BlockReason, GuardSnapshot } from './safety.js';
import { RelayGuard } from './safety.js';
import type { TargetRef } from './schema.js';
import { ZoneClock } from './timezone.js';

/** Why an output changed (the control history's `source`). */
export type ChangeSource = 'rule' | 'schedule' | 'manual' | 'failsafe' | 'safety' | 'mode' | 'startup';

/** A change of a device's output or mode: one `device:update` and one control history row. */
export interface DeviceChange {
  device: string;
  location: string;
  cluster: string;
  from: OnOff;
  to: OnOff;
  fromMode: Mode;
  mode: Mode;
  source: ChangeSource;
  reason: string;
  /** Who caused it: `automation`, or the sender of a command. */
  by: string;
  at: number;
}

export type EventType =
  'failsafe' | 'recovered' | 'blocked' | 'command' | 'setpoint' | 'expired' | 'fault' | 'restored';

/** Something worth telling an operator (published on `automation:events`, kept in the control history). */
export interface ControlEvent {
  type: EventType;
  device?: string;
  message: string;
  by?: string;
  at: number;
}

/** A device's state as the API shows it. */
export interface DeviceStatus {
  name: string;
  location: string;
  cluster: string;
  kind: string;
  state: OnOff;
  mode: Mode;
  modeExpiresAt: number | null;
  modeBy: string;
  reason: string;
  failsafe: boolean;
  blocked: BlockReason | null;
  fault: string | null;
  since: number;
}

/** What is persisted per device so a restart can restore it. */
export interface DeviceSnapshot {
  mode: Mode;
  manualState: OnOff;
  modeExpiresAt: number | null;
  modeBy: string;
  state: OnOff;
  guard: GuardSnapshot;
}

export interface EngineSnapshot {
  devices: Record<string, DeviceSnapshot>;
  setpoints: Record<string, number>;
}

interface Runtime {
  cfg: DeviceConfig;
  guard: RelayGuard;
  mem: ControllerMemory;
  mode: Mode;
  manualState: OnOff;
  modeExpiresAt: number | null;
  modeBy: string;
  reason: string;
  failsafe: boolean;
  blocked: BlockReason | null;
  fault: string | null;
  published: { state: OnOff; mode: Mode };
}

export interface EvaluateResult {
  changes: DeviceChange[];
  events: ControlEvent[];
}

/**
 * The control loop's brain: devices, modes, setpoints, live readings,
 * controllers and per-relay safety. Pure — no I/O, no timers; every method
 * takes the time. The service feeds it readings and commands, calls
 * {@link evaluate} and applies the returned changes to the relays in order.
 */
export class ControlEngine {
  readonly config: ControlConfig;
  readonly zone: ZoneClock;
  readonly startedAt: number;
  readonly #rt = new Map<string, Runtime>();
  readonly #readings = new Map<string, Reading>();
  readonly #setpoints = new Map<string, number>();
  /** sensor → devices reading it; device → devices depending on it (conditions, day, exclusion). */
  readonly #bySensor = new Map<string, string[]>();
  readonly #dependents = new Map<string, Set<string>>();

  constructor(config: ControlConfig, now: number) {
    this.config = config;
    this.zone = new ZoneClock(config.timeZone);
    this.startedAt = now;
    for (const [n, sp] of Object.entries(config.setpoints)) this.#setpoints.set(n, sp.value);
    for (const d of config.devices) {
      const safe = d.safeState === 1;
      this.#rt.set(d.name, {
        cfg: d,
        guard: new RelayGuard(d.safety, safe, now),
        mem: newMemory(),
        mode: d.initialMode,
        manualState: d.safeState,
        modeExpiresAt: null,
        modeBy: 'config',
        reason: 'startup: safe state',
        failsafe: false,
        blocked: null,
        fault: null,
        published: { state: d.safeState, mode: d.initialMode },
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

  /** Every sensor some controller reads. */
  sensors(): string[] {
    return [...this.#bySensor.keys()];
  }

  /** Devices whose controller (or conditions) read `sensor`. */
  devicesReading(sensor: string): readonly string[] {
    return this.#bySensor.get(sensor) ?? [];
  }

  /** Takes a live reading; ignores unknown sensors, non-finite values and readings older than the one held. */
  ingest(sensor: string, value: number, ts: number): boolean {
    if (!this.#bySensor.has(sensor) || !Number.isFinite(value) || !Number.isFinite(ts)) return false;
    const cur = this.#readings.get(sensor);
    if (cur && cur.ts > ts) return false;
    this.#readings.set(sensor, { value, ts });
    return true;
  }

  reading(sensor: string): Reading | undefined {
    return this.#readings.get(sensor);
  }

  setpoints(): Record<string, number> {
    return Object.fromEntries(this.#setpoints);
  }

  /** Applies a mode/state command (validated by CommandParser); the change itself happens in {@link evaluate}. */
  command(cmd: DeviceCommand, now: number): { ok: true; event: ControlEvent } | { ok: false; error: string } {
    const rt = this.#rt.get(cmd.device);
    if (!rt) return { ok: false, error: `unknown device "${cmd.device}"` };
    rt.mode = cmd.mode;
    rt.modeBy = cmd.by;
    if (cmd.mode === 'manual') rt.manualState = cmd.state ?? rt.manualState;
    rt.modeExpiresAt = cmd.mode !== 'auto' && cmd.ttl_s !== undefined ? now + cmd.ttl_s * 1000 : null;
    const what = cmd.mode === 'manual' ? `manual ${cmd.state ? 'on' : 'off'}` : cmd.mode;
    const ttl = cmd.ttl_s !== undefined ? ` for ${cmd.ttl_s} s` : '';
    return { ok: true, event: { type: 'command', device: cmd.device, by: cmd.by, at: now, message: `${what}${ttl}` } };
  }

  /** Changes a setpoint within its configured range. */
  setSetpoint(cmd: SetpointCommand, now: number): { ok: true; event: ControlEvent } | { ok: false; error: string } {
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
        at: now,
        message: `${cmd.setpoint} ${old} → ${cmd.value}${spec.unit ? ' ' + spec.unit : ''}`,
      },
    };
  }

  /** Whether some device's relay could not be written (see {@link markFault}). */
  hasFaults(): boolean {
    for (const rt of this.#rt.values()) if (rt.fault !== null) return true;
    return false;
  }

  /** Marks a device whose relay could not be written (counts as possibly on for exclusions). */
  markFault(device: string, message: string | null, now: number): ControlEvent | undefined {
    const rt = this.#rt.get(device);
    if (!rt || rt.fault === message) return undefined;
    rt.fault = message;
    return { type: 'fault', device, at: now, message: message ?? 'output verified again' };
  }

  /**
   * Decides every device (or `only` those, plus whatever depends on a device
   * that changed) and returns the changes to apply, in order, and events.
   */
  evaluate(now: number, only?: Iterable<string>): EvaluateResult {
    const out: EvaluateResult = { changes: [], events: [] };
    let todo = only ? new Set(only) : new Set(this.#rt.keys());
    for (let pass = 0; pass < 4 && todo.size; pass++) {
      const next = new Set<string>();
      for (const rt of this.#rt.values()) {
        if (!todo.has(rt.cfg.name)) continue;
        const ch = this.#evaluateOne(rt, now, out.events);
        if (ch) {
          out.changes.push(ch);
          for (const d of this.#dependents.get(rt.cfg.name) ?? []) next.add(d);
        }
      }
      todo = next;
    }
    return out;
  }

  #evaluateOne(rt: Runtime, now: number, events: ControlEvent[]): DeviceChange | undefined {
    const d = rt.cfg;
    if (rt.mode !== 'auto' && rt.modeExpiresAt !== null && now >= rt.modeExpiresAt) {
      events.push({
        type: 'expired',
        device: d.name,
        at: now,
        message: `${rt.mode} mode by ${rt.modeBy} expired; back to auto`,
      });
      rt.mode = 'auto';
      rt.modeExpiresAt = null;
      rt.modeBy = 'expiry';
    }
    let want: boolean;
    let reason: string;
    let source: ChangeSource;
    let by = 'automation';
    if (rt.mode === 'off') {
      [want, reason, source, by] = [false, 'mode off', 'mode', rt.modeBy];
    } else if (rt.mode === 'manual') {
      [want, reason, source, by] = [rt.manualState === 1, 'manual command', 'manual', rt.modeBy];
    } else if (!d.control) {
      [want, reason, source] = [d.safeState === 1, 'no controller: safe state', 'rule'];
    } else {
      const stale = this.#stale(d, now);
      if (stale) {
        [want, reason, source] = [d.safeState === 1, stale.reason, 'failsafe'];
        if (stale.failsafe && !rt.failsafe) {
          rt.failsafe = true;
          events.push({ type: 'failsafe', device: d.name, at: now, message: `${stale.reason}: going to safe state` });
        }
      } else {
        if (rt.failsafe) {
          rt.failsafe = false;
          events.push({
            type: 'recovered',
            device: d.name,
            at: now,
            message: 'sensor data fresh again; control resumed',
          });
        }
        const w = evaluateControl(d, d.control, this.zone, this.#inputs(now), rt.mem);
        [want, reason, source] = [w.on, w.reason, w.source];
      }
    }
    const otherOn = d.exclusive.find((o) => {
      const x = this.#rt.get(o);
      return x !== undefined && (x.guard.on || x.fault !== null);
    });
    const dec = rt.guard.decide(want, now, otherOn);
    const blocked = dec.blocked ?? null;
    if (blocked !== rt.blocked) {
      rt.blocked = blocked;
      if (blocked && blocked !== 'max_on')
        events.push({
          type: 'blocked',
          device: d.name,
          at: now,
          message: `${want ? 'on' : 'off'} held back: ${blocked} (${dec.detail})`,
        });
    }
    if (dec.blocked === 'max_on') [reason, source, by] = [`maximum on time: ${dec.detail}`, 'safety', 'automation'];
    const from = rt.published;
    const to: OnOff = dec.on ? 1 : 0;
    rt.guard.commit(dec.on, now);
    if (to !== from.state) rt.reason = reason;
    if (to === from.state && rt.mode === from.mode) return undefined;
    rt.published = { state: to, mode: rt.mode };
    return {
      device: d.name,
      location: d.location,
      cluster: d.cluster,
      from: from.state,
      to,
      fromMode: from.mode,
      mode: rt.mode,
      source: to === from.state ? 'mode' : source,
      reason: to === from.state ? `mode ${from.mode} → ${rt.mode}` : reason,
      by,
      at: now,
    };
  }

  #stale(d: DeviceConfig, now: number): { reason: string; failsafe: boolean } | undefined {
    const limit = d.safety.staleAfterMs;
    for (const s of d.sensors) {
      const r = this.#readings.get(s);
      if (!r) {
        const waited = now - this.startedAt;
        return waited > limit
          ? {
              reason: `failsafe: no reading of ${s} for ${Math.round(waited / 1000)} s (limit ${limit / 1000} s)`,
              failsafe: true,
            }
          : { reason: `waiting for the first reading of ${s}`, failsafe: false };
      }
      const age = now - r.ts;
      if (age > limit)
        return {
          reason: `failsafe: ${s} is stale (last reading ${Math.round(age / 100) / 10} s ago, limit ${limit / 1000} s)`,
          failsafe: true,
        };
    }
    return undefined;
  }

  #inputs(now: number): ControlInputs {
    return {
      now,
      reading: (s) => this.#readings.get(s),
      deviceOn: (n) => this.#rt.get(n)?.guard.on ?? false,
      setpoint: (ref: TargetRef) => (typeof ref === 'number' ? ref : (this.#setpoints.get(ref) ?? NaN)),
    };
  }

  status(): DeviceStatus[] {
    return [...this.#rt.values()].map((rt) => ({
      name: rt.cfg.name,
      location: rt.cfg.location,
      cluster: rt.cfg.cluster,
      kind: rt.cfg.kind,
      state: rt.guard.on ? 1 : 0,
      mode: rt.mode,
      modeExpiresAt: rt.modeExpiresAt,
      modeBy: rt.modeBy,
      reason: rt.reason,
      failsafe: rt.failsafe,
      blocked: rt.blocked,
      fault: rt.fault,
      since: rt.guard.since,
    }));
  }

  snapshot(): EngineSnapshot {
    const devices: Record<string, DeviceSnapshot> = {};
    for (const rt of this.#rt.values()) {
      devices[rt.cfg.name] = {
        mode: rt.mode,
        manualState: rt.manualState,
        modeExpiresAt: rt.modeExpiresAt,
        modeBy: rt.modeBy,
        state: rt.guard.on ? 1 : 0,
        guard: rt.guard.snapshot(),
      };
    }
    return { devices, setpoints: this.setpoints() };
  }

  /**
   * Restores persisted modes, manual states, setpoints and relay history
   * (call right after construction, when every relay is in its safe state).
   * Unknown devices and out-of-range setpoints are skipped. The outputs
   * follow at the next {@link evaluate}, within the safety limits.
   */
  restore(s: Partial<EngineSnapshot>, now: number): ControlEvent[] {
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
    for (const [name, snap] of Object.entries(s.devices ?? {})) {
      const rt = this.#rt.get(name);
      if (!rt || !snap) continue;
      if (snap.mode === 'auto' || snap.mode === 'manual' || snap.mode === 'off') rt.mode = snap.mode;
      rt.manualState = snap.manualState === 1 ? 1 : 0;
      rt.modeExpiresAt = typeof snap.modeExpiresAt === 'number' ? snap.modeExpiresAt : null;
      rt.modeBy = typeof snap.modeBy === 'string' ? snap.modeBy : 'restore';
      rt.mem.lastOn = snap.state === 1;
      if (snap.guard) rt.guard.restoreHistory(snap.guard);
      events.push({
        type: 'restored',
        device: name,
        at: now,
        message: `restored mode ${rt.mode}${rt.mode === 'manual' ? ` (${rt.manualState ? 'on' : 'off'})` : ''}, last state ${snap.state ? 'on' : 'off'}`,
      });
    }
    return events;
  }
}
