import type { DeviceConfig, OnOff } from './config.js';
import type { Reading } from './controllers.js';
import { NO_PROGRAMS, type Programs, type SetpointSchedule } from './programs.js';
import type { ControlSpec } from './schema.js';
import { parseClock, type ZoneClock } from './timezone.js';

/** What an active rule asks of its device. */
export interface RuleWant {
  on: boolean;
  reason: string;
}

const f2 = (n: number): string => (Math.round(n * 100) / 100).toString();

/**
 * The run-time side of schedules and rules inside the engine: which
 * controller a lighting schedule puts on a device, which value a setpoint
 * schedule asks for now, and since when each rule's condition has held
 * (monotonic time; a missing or stale reading resets it). Pure, no timers.
 */
export class ProgramState {
  #p: Programs = NO_PROGRAMS;
  /** rule id → monotonic ms since when its condition holds. */
  readonly #since = new Map<string, number>();
  #sensors = new Map<string, string[]>();

  get programs(): Programs {
    return this.#p;
  }

  /** Replaces every schedule and rule; a rule kept under the same id and condition keeps its timer. */
  set(p: Programs): void {
    const old = new Map(this.#p.rules.map((r) => [r.id, r]));
    for (const id of [...this.#since.keys()]) {
      const before = old.get(id);
      const now = p.rules.find((r) => r.id === id);
      if (!now || !before || now.sensor !== before.sensor || now.above !== before.above || now.below !== before.below)
        this.#since.delete(id);
    }
    this.#p = p;
    this.#sensors = new Map();
    for (const r of p.rules) this.#sensors.set(r.sensor, [...(this.#sensors.get(r.sensor) ?? []), r.device]);
  }

  /** Sensors the rules read, each with the devices its rules switch. */
  sensors(): ReadonlyMap<string, string[]> {
    return this.#sensors;
  }

  /** The controller of a device: its lighting schedule (keeping the file's conditions), else the file's. */
  control(d: DeviceConfig): ControlSpec | undefined {
    const l = this.#p.lighting.find((x) => x.device === d.name);
    if (!l) return d.control;
    const when = d.control?.type === 'schedule' ? d.control.when : undefined;
    return { type: 'schedule', on: l.on, off: l.off, ...(when ? { when } : {}) };
  }

  /** Advances every rule's timer; `staleAfterMs(device)` is how old a reading its device accepts. */
  update(mono: number, reading: (s: string) => Reading | undefined, staleAfterMs: (device: string) => number): void {
    for (const r of this.#p.rules) {
      const x = reading(r.sensor);
      const fresh = x !== undefined && mono - x.at <= staleAfterMs(r.device);
      const holds =
        fresh && (r.above !== undefined ? x.value > r.above : r.below !== undefined ? x.value < r.below : false);
      if (!holds) this.#since.delete(r.id);
      else if (!this.#since.has(r.id)) this.#since.set(r.id, mono);
    }
  }

  /**
   * What the active rules ask of `device`: a rule is active once its
   * condition has held for `forMin`. Several active rules: the device's
   * safe state wins.
   */
  want(device: string, safeState: OnOff, mono: number): RuleWant | undefined {
    let out: RuleWant | undefined;
    for (const r of this.#p.rules) {
      if (r.device !== device) continue;
      const since = this.#since.get(r.id);
      if (since === undefined || mono - since < r.forMin * 60_000) continue;
      const cond = r.above !== undefined ? `above ${f2(r.above)}` : `below ${f2(r.below!)}`;
      const w = { on: r.state === 1, reason: `rule ${r.id}: ${r.sensor} ${cond} for ${r.forMin} min` };
      if (!out || w.on === (safeState === 1)) out = w;
    }
    return out;
  }

  /** The value each setpoint schedule asks for now (`stageOf(location)`: its growth stage). */
  setpointValues(
    zone: ZoneClock,
    wall: number,
    stageOf: (location: string) => string | undefined,
  ): Array<{ id: string; setpoint: string; value: number; why: string }> {
    const out: Array<{ id: string; setpoint: string; value: number; why: string }> = [];
    for (const s of this.#p.setpoints) {
      const v = scheduledValue(s, zone, wall, stageOf);
      if (v) out.push({ id: s.id, setpoint: s.setpoint, ...v });
    }
    return out;
  }
}

/** The value of one setpoint schedule at `wall`, or undefined (no entry for the current stage). */
export function scheduledValue(
  s: SetpointSchedule,
  zone: ZoneClock,
  wall: number,
  stageOf: (location: string) => string | undefined,
): { value: number; why: string } | undefined {
  if (s.periods?.length) {
    const p = zone.parts(wall);
    const minute = p.hour * 60 + p.minute;
    const sorted = [...s.periods].sort((a, b) => parseClock(a.from) - parseClock(b.from));
    const cur = [...sorted].reverse().find((x) => parseClock(x.from) <= minute) ?? sorted[sorted.length - 1]!;
    return { value: cur.value, why: `from ${cur.from}` };
  }
  if (s.stages && s.location) {
    const stage = stageOf(s.location);
    const value = stage === undefined ? undefined : s.stages[stage];
    return value === undefined ? undefined : { value, why: `stage ${stage} of ${s.location}` };
  }
  return undefined;
}
