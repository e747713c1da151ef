import type { DeviceConfig } from './config.js';
import type { Condition, ControlSpec, TargetRef } from './schema.js';
import type { ZoneClock } from './timezone.js';
import { parseClock, scheduleState } from './timezone.js';
import { leafVpdKpa } from './vpd.js';

/** A live reading as the controllers see it. */
export interface Reading {
  value: number;
  /** Monotonic ms when this process received it (less any age its source stated); ages are measured from here. */
  at: number;
  /** The source's own timestamp (wall-clock ms), when it gave one: identifies a sample, never measures an age. */
  ts: number | undefined;
}

/** What a controller may look at: live readings, other devices' outputs, setpoints. Pure. */
export interface ControlInputs {
  /** Monotonic ms: durations (PID windows). */
  mono: number;
  /** Wall-clock ms: schedules and photoperiods. */
  wall: number;
  reading(sensor: string): Reading | undefined;
  deviceOn(device: string): boolean;
  setpoint(ref: TargetRef): number;
  /** The growth stage in force at a location (its grow cycle's); default: the device's configured stage. */
  stage?(location: string): string | undefined;
}

export type ControlSource = 'rule' | 'schedule';

/** What a controller asks of its relay, and why. */
export interface Want {
  on: boolean;
  reason: string;
  source: ControlSource;
}

/** Time-proportioning PID state. */
export interface PidState {
  integral: number;
  prevError: number | undefined;
  windowStart: number | undefined;
  duty: number;
}

/** What controllers remember between evaluations. */
export interface ControllerMemory {
  /** Last decision of a hysteresis band (held while inside the band). */
  lastOn: boolean;
  pid: PidState;
}

export function newMemory(): ControllerMemory {
  return { lastOn: false, pid: { integral: 0, prevError: undefined, windowStart: undefined, duty: 0 } };
}

const f2 = (n: number): string => (Math.round(n * 100) / 100).toString();

/** Evaluates conditions in order; returns the first that fails (as a reason), or undefined when all hold. */
export function failedCondition(when: Condition[] | undefined, inp: ControlInputs): string | undefined {
  for (const c of when ?? []) {
    if ('device' in c) {
      const on = inp.deviceOn(c.device);
      if ((on ? 1 : 0) !== c.state) return `condition: ${c.device} is ${on ? 'on' : 'off'}`;
      continue;
    }
    const r = inp.reading(c.sensor);
    if (!r) return `condition: no reading of ${c.sensor}`;
    if (c.above !== undefined && !(r.value > inp.setpoint(c.above)))
      return `condition: ${c.sensor} ${f2(r.value)} is not above ${f2(inp.setpoint(c.above))}`;
    if (c.below !== undefined && !(r.value < inp.setpoint(c.below)))
      return `condition: ${c.sensor} ${f2(r.value)} is not below ${f2(inp.setpoint(c.below))}`;
  }
  return undefined;
}

/**
 * On/off with hysteresis: `raise` turns on below `target − band/2` and off
 * above `target + band/2`; `lower` the other way round; inside the band the
 * last decision holds.
 */
export function hysteresis(
  value: number,
  target: number,
  band: number,
  action: 'raise' | 'lower',
  lastOn: boolean,
): { on: boolean; edge: string } {
  const lo = target - band / 2;
  const hi = target + band / 2;
  if (action === 'raise') {
    if (value < lo) return { on: true, edge: `${f2(value)} < ${f2(lo)}` };
    if (value > hi) return { on: false, edge: `${f2(value)} > ${f2(hi)}` };
  } else {
    if (value > hi) return { on: true, edge: `${f2(value)} > ${f2(hi)}` };
    if (value < lo) return { on: false, edge: `${f2(value)} < ${f2(lo)}` };
  }
  return { on: lastOn, edge: `${f2(value)} within ${f2(lo)}–${f2(hi)}, holding` };
}

/**
 * One time-proportioning PID step. The duty cycle (0–1) is recomputed at
 * the start of each window from the error (setpoint − value for `raise`,
 * value − setpoint for `lower`); the relay is on for the first `duty` part of
 * the window. The integral is clamped so its contribution stays within 0–1
 * (anti-windup).
 */
export function pidStep(
  s: PidState,
  spec: { kp: number; ki?: number; kd?: number; windowS: number; action: 'raise' | 'lower' },
  value: number,
  target: number,
  now: number,
): { on: boolean; duty: number } {
  const windowMs = spec.windowS * 1000;
  const ki = spec.ki ?? 0;
  const kd = spec.kd ?? 0;
  if (s.windowStart === undefined || now >= s.windowStart + windowMs || now < s.windowStart) {
    const err = spec.action === 'raise' ? target - value : value - target;
    const dt = spec.windowS;
    if (ki > 0) s.integral = Math.min(1 / ki, Math.max(0, s.integral + err * dt));
    const deriv = s.prevError === undefined ? 0 : (err - s.prevError) / dt;
    s.prevError = err;
    s.duty = Math.min(1, Math.max(0, spec.kp * err + ki * s.integral + kd * deriv));
    const aligned = s.windowStart !== undefined && now >= s.windowStart && now < s.windowStart + 2 * windowMs;
    s.windowStart = aligned ? s.windowStart! + windowMs : now;
  }
  return { on: now - s.windowStart! < s.duty * windowMs, duty: s.duty };
}

/** What a device's controller wants now. Assumes its sensors are fresh (the engine checks). */
export function evaluateControl(
  dev: DeviceConfig,
  spec: ControlSpec,
  zone: ZoneClock,
  inp: ControlInputs,
  mem: ControllerMemory,
): Want {
  const source: ControlSource = spec.type === 'schedule' ? 'schedule' : 'rule';
  const failed = failedCondition(spec.when, inp);
  if (failed) {
    mem.lastOn = false;
    return { on: false, reason: failed, source: 'rule' };
  }
  switch (spec.type) {
    case 'schedule': {
      const s = scheduleState(zone, parseClock(spec.on), parseClock(spec.off), inp.wall);
      return { on: s.on, reason: `schedule ${spec.on}–${spec.off} ${zone.timeZone}`, source };
    }
    case 'hysteresis': {
      const r = inp.reading(spec.sensor)!;
      const sp = inp.setpoint(spec.setpoint);
      const h = hysteresis(r.value, sp, spec.band, spec.action, mem.lastOn);
      mem.lastOn = h.on;
      return { on: h.on, reason: `${spec.sensor} ${h.edge} (setpoint ${f2(sp)})`, source };
    }
    case 'vpd': {
      const t = inp.reading(spec.temp)!;
      const rh = inp.reading(spec.rh)!;
      const day =
        'device' in spec.day
          ? inp.deviceOn(spec.day.device)
          : scheduleState(zone, parseClock(spec.day.on), parseClock(spec.day.off), inp.wall).on;
      const cycle = inp.stage?.(dev.location);
      const stage = cycle !== undefined && cycle in spec.targets ? cycle : (dev.stage ?? Object.keys(spec.targets)[0]!);
      const targets = spec.targets[stage]!;
      const target = inp.setpoint(day ? targets.day : targets.night);
      const vpd = leafVpdKpa(t.value, rh.value, spec.leafOffsetC ?? 0);
      const h = hysteresis(vpd, target, spec.band, spec.action, mem.lastOn);
      mem.lastOn = h.on;
      return {
        on: h.on,
        reason: `leaf VPD ${h.edge} kPa (${stage} ${day ? 'day' : 'night'} target ${f2(target)})`,
        source,
      };
    }
    case 'pid': {
      const r = inp.reading(spec.sensor)!;
      const sp = inp.setpoint(spec.setpoint);
      const p = pidStep(mem.pid, spec, r.value, sp, inp.mono);
      return {
        on: p.on,
        reason: `PID duty ${Math.round(p.duty * 100)}% (${spec.sensor} ${f2(r.value)}, setpoint ${f2(sp)})`,
        source,
      };
    }
  }
}
