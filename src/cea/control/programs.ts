import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ControlConfig } from './config.js';
import { parseClock } from './timezone.js';

/**
 * Schedules and rules an operator can change at run time (the `schedules`
 * and `rules` tables): validated with TypeBox schemas like the devices file,
 * then checked against the devices file (devices, setpoints and their ranges).
 */
const Clock = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'local time HH:MM' });
const Name = Type.String({ minLength: 1, maxLength: 64 });

/** Lights (or any output) on from `on` to `off` every day; replaces the device's controller. */
export const LightingScheduleSchema = Type.Object(
  { type: Type.Literal('lighting'), device: Name, on: Clock, off: Clock },
  { additionalProperties: false },
);

/**
 * A setpoint's value by time of day (`periods`: each value holds from its
 * `from` until the next one) or by the growth stage of `location` (`stages`).
 */
export const SetpointScheduleSchema = Type.Object(
  {
    type: Type.Literal('setpoint'),
    setpoint: Name,
    periods: Type.Optional(
      Type.Array(Type.Object({ from: Clock, value: Type.Number() }, { additionalProperties: false }), {
        minItems: 1,
        maxItems: 48,
      }),
    ),
    location: Type.Optional(Name),
    stages: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.Number())),
  },
  { additionalProperties: false },
);

/** "If sensor X is above (below) Y for Z minutes then device D on/off." */
export const RuleSchema = Type.Object(
  {
    sensor: Name,
    above: Type.Optional(Type.Number()),
    below: Type.Optional(Type.Number()),
    forMin: Type.Number({ minimum: 0, maximum: 1440 }),
    device: Name,
    state: Type.Union([Type.Literal(0), Type.Literal(1)]),
  },
  { additionalProperties: false },
);

export type LightingSchedule = Static<typeof LightingScheduleSchema>;
export type SetpointSchedule = Static<typeof SetpointScheduleSchema>;
export type ScheduleConfig = LightingSchedule | SetpointSchedule;
export type RuleConfig = Static<typeof RuleSchema>;

/** One finding: `field` is a JSON pointer into the config (`/on`, `/periods/1/value`); empty for the whole. */
export interface Problem {
  field: string;
  message: string;
}

/** A schedule or rule is wrong; `problems` says which field and why (the dashboard shows them next to the field). */
export class ProgramConfigError extends Error {
  readonly code = 'CONTROL_PROGRAM';
  readonly problems: Problem[];
  constructor(what: string, problems: Problem[]) {
    super(`${what}: ${problems.map((p) => `${p.field || '(top level)'} ${p.message}`).join('; ')}`);
    this.name = 'ProgramConfigError';
    this.problems = problems;
  }
}

/** A stored schedule or rule (the shape of the tables' rows). */
export interface ProgramRecord {
  id: string;
  config: Record<string, unknown>;
  enabled: boolean;
}

/** Validated, enabled schedules and rules, ready for the engine. */
export interface Programs {
  lighting: Array<LightingSchedule & { id: string }>;
  setpoints: Array<SetpointSchedule & { id: string }>;
  rules: Array<RuleConfig & { id: string }>;
}

export const NO_PROGRAMS: Programs = Object.freeze({ lighting: [], setpoints: [], rules: [] }) as Programs;

function problemsOf(errors: ErrorObject[] | null | undefined): Problem[] {
  const out = new Map<string, Problem>();
  for (const e of errors ?? []) {
    let field = e.instancePath;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') message = `unknown field "${String(e.params.additionalProperty)}"`;
    if (e.keyword === 'required') {
      field = `${field}/${String(e.params.missingProperty)}`;
      message = 'is required';
    }
    if (e.keyword === 'pattern') message = 'must be a time HH:MM';
    out.set(`${field} ${message}`, { field, message });
  }
  return [...out.values()];
}

/** Validates schedules and rules; one compiled validator set per instance (no module-level state). */
export class ProgramValidator {
  readonly #cfg: ControlConfig;
  readonly #lighting: ValidateFunction;
  readonly #setpoint: ValidateFunction;
  readonly #rule: ValidateFunction;

  constructor(cfg: ControlConfig) {
    this.#cfg = cfg;
    const ajv = new Ajv({ allErrors: true, strict: false });
    const c = (s: TSchema) => ajv.compile(s);
    this.#lighting = c(LightingScheduleSchema);
    this.#setpoint = c(SetpointScheduleSchema);
    this.#rule = c(RuleSchema);
  }

  /** The problems of a schedule (empty: valid). */
  scheduleProblems(v: unknown): Problem[] {
    const type = (v as { type?: unknown } | null)?.type;
    if (type === 'lighting') {
      if (!this.#lighting(v)) return problemsOf(this.#lighting.errors);
      const s = v as LightingSchedule;
      const p: Problem[] = [];
      const dev = this.#cfg.devices.find((d) => d.name === s.device);
      if (!dev) p.push({ field: '/device', message: `no device named "${s.device}"` });
      else if (dev.control && dev.control.type !== 'schedule')
        p.push({ field: '/device', message: `${s.device} has a ${dev.control.type} controller, not a schedule` });
      if (parseClock(s.on) === parseClock(s.off)) p.push({ field: '/off', message: 'is the same time as on' });
      return p;
    }
    if (type === 'setpoint') {
      if (!this.#setpoint(v)) return problemsOf(this.#setpoint.errors);
      return this.#setpointProblems(v as SetpointSchedule);
    }
    return [{ field: '/type', message: 'must be "lighting" or "setpoint"' }];
  }

  #setpointProblems(s: SetpointSchedule): Problem[] {
    const p: Problem[] = [];
    const spec = this.#cfg.setpoints[s.setpoint];
    if (!spec) p.push({ field: '/setpoint', message: `no setpoint named "${s.setpoint}"` });
    const inRange = (field: string, value: number) => {
      if (spec && ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)))
        p.push({ field, message: `must be within [${spec.min ?? '-∞'}, ${spec.max ?? '∞'}]` });
    };
    if ((s.periods === undefined) === (s.stages === undefined))
      p.push({ field: '', message: 'give either "periods" (by time of day) or "stages" (by growth stage)' });
    const seen = new Set<number>();
    s.periods?.forEach((x, i) => {
      inRange(`/periods/${i}/value`, x.value);
      if (seen.has(parseClock(x.from))) p.push({ field: `/periods/${i}/from`, message: 'is used twice' });
      seen.add(parseClock(x.from));
    });
    if (s.stages !== undefined) {
      if (s.location === undefined) p.push({ field: '/location', message: 'is required with "stages"' });
      else if (!this.#cfg.devices.some((d) => d.location === s.location))
        p.push({ field: '/location', message: `no device is in location "${s.location}"` });
      for (const [st, value] of Object.entries(s.stages)) inRange(`/stages/${st}`, value);
    }
    return p;
  }

  /** The problems of a rule (empty: valid). */
  ruleProblems(v: unknown): Problem[] {
    if (!this.#rule(v)) return problemsOf(this.#rule.errors);
    const r = v as RuleConfig;
    const p: Problem[] = [];
    if ((r.above === undefined) === (r.below === undefined))
      p.push({ field: '/above', message: 'give either "above" or "below"' });
    const dev = this.#cfg.devices.find((d) => d.name === r.device);
    if (!dev) p.push({ field: '/device', message: `no device named "${r.device}"` });
    return p;
  }

  /** Throws {@link ProgramConfigError} unless valid. */
  checkSchedule(v: unknown, what = 'schedule'): ScheduleConfig {
    const p = this.scheduleProblems(v);
    if (p.length) throw new ProgramConfigError(what, p);
    return v as ScheduleConfig;
  }

  checkRule(v: unknown, what = 'rule'): RuleConfig {
    const p = this.ruleProblems(v);
    if (p.length) throw new ProgramConfigError(what, p);
    return v as RuleConfig;
  }

  /**
   * The enabled, valid records as {@link Programs}; invalid ones (the devices
   * file changed under them) are skipped and returned in `rejected`.
   */
  compile(schedules: ProgramRecord[], rules: ProgramRecord[]): { programs: Programs; rejected: string[] } {
    const programs: Programs = { lighting: [], setpoints: [], rules: [] };
    const rejected: string[] = [];
    const lit = new Set<string>();
    for (const r of schedules) {
      if (!r.enabled) continue;
      const p = this.scheduleProblems(r.config);
      const s = r.config as ScheduleConfig;
      if (!p.length && s.type === 'lighting' && lit.has(s.device))
        p.push({ field: '/device', message: 'has another lighting schedule' });
      if (p.length) {
        rejected.push(new ProgramConfigError(`schedule ${r.id}`, p).message);
        continue;
      }
      if (s.type === 'lighting') {
        lit.add(s.device);
        programs.lighting.push({ ...s, id: r.id });
      } else programs.setpoints.push({ ...s, id: r.id });
    }
    for (const r of rules) {
      if (!r.enabled) continue;
      const p = this.ruleProblems(r.config);
      if (p.length) rejected.push(new ProgramConfigError(`rule ${r.id}`, p).message);
      else programs.rules.push({ ...(r.config as RuleConfig), id: r.id });
    }
    return { programs, rejected };
  }
}

/**
 * What to store on first start, when both tables are empty: a lighting
 * schedule for every device the devices file runs on a schedule.
 */
export function seedPrograms(cfg: ControlConfig): { schedules: ProgramRecord[]; rules: ProgramRecord[] } {
  const schedules: ProgramRecord[] = [];
  for (const d of cfg.devices)
    if (d.control?.type === 'schedule')
      schedules.push({
        id: `lights-${d.name}`,
        config: { type: 'lighting', device: d.name, on: d.control.on, off: d.control.off },
        enabled: true,
      });
  return { schedules, rules: [] };
}
