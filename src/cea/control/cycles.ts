import type { CycleCommand, CycleState } from '../../contracts/commands.js';
import type { ControlConfig } from './config.js';

/**
 * The grow cycle of each room (location): its stage and start date, set by
 * an operator through the cycle command. A room's cycle stage replaces
 * `stages[location]` of the devices file: it selects the VPD targets and
 * the setpoint schedules by stage. Pure; the engine owns one.
 */
export class GrowCycles {
  readonly #config: ControlConfig;
  readonly #cycles = new Map<string, CycleState>();

  constructor(config: ControlConfig) {
    this.#config = config;
  }

  /**
   * Why `stage` cannot be the stage of `location`, or undefined when it can:
   * the location must have devices, and every VPD controller there must have
   * targets for the stage.
   */
  problem(location: string, stage: string): string | undefined {
    const devices = this.#config.devices.filter((d) => d.location === location);
    if (!devices.length) return `unknown location "${location}"`;
    for (const d of devices) {
      if (d.control?.type !== 'vpd' || stage in d.control.targets) continue;
      return `stage "${stage}" has no VPD targets in ${location} (known: ${this.stagesOf(location).join(', ')})`;
    }
    return undefined;
  }

  /** The stages every VPD controller of `location` has targets for (empty: no VPD controller there). */
  stagesOf(location: string): string[] {
    let common: string[] | undefined;
    for (const d of this.#config.devices) {
      if (d.location !== location || d.control?.type !== 'vpd') continue;
      const own = Object.keys(d.control.targets);
      common = common ? common.filter((s) => own.includes(s)) : own;
    }
    return common ?? [];
  }

  /** Applies a cycle command; `at`: wall-clock ms. */
  set(cmd: CycleCommand, at: number): { ok: true; state: CycleState } | { ok: false; error: string } {
    const { location, stage, start } = cmd.cycle;
    const problem = this.problem(location, stage);
    if (problem) return { ok: false, error: problem };
    if (!validDate(start)) return { ok: false, error: `start "${start}" is not a date (YYYY-MM-DD)` };
    const state: CycleState = { stage, start, by: cmd.by, at: new Date(at).toISOString() };
    this.#cycles.set(location, state);
    return { ok: true, state };
  }

  /** The stage in force at `location`: its cycle's, else the devices file's `stages`. */
  stageOf(location: string): string | undefined {
    return this.#cycles.get(location)?.stage ?? this.#config.stages?.[location];
  }

  /** Every cycle set, for persisting (`_cycles`). */
  snapshot(): Record<string, CycleState> {
    return Object.fromEntries(this.#cycles);
  }

  /** Restores persisted cycles; those that no longer fit the configuration are skipped and named. */
  restore(saved: Record<string, CycleState> | undefined): string[] {
    const skipped: string[] = [];
    for (const [location, c] of Object.entries(saved ?? {})) {
      const ok =
        c !== null &&
        typeof c === 'object' &&
        typeof c.stage === 'string' &&
        typeof c.start === 'string' &&
        validDate(c.start) &&
        this.problem(location, c.stage) === undefined;
      if (ok) this.#cycles.set(location, { stage: c.stage, start: c.start, by: String(c.by), at: String(c.at) });
      else skipped.push(location);
    }
    return skipped;
  }
}

function validDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
}
