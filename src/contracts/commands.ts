/**
 * The commands on `actuators:commands` (and announced on `control:command`):
 * device, setpoint and reload. Defined here once; the control domain
 * (src/cea/control/commands.ts) validates and applies them.
 */
import { Type, type Static } from '@sinclair/typebox';

/**
 * A device command as it travels on `actuators:commands`:
 * `{device, state, mode, ttl_s?, until_changed?, by}`. `mode` defaults to
 * `manual` when only `state` is given; `auto` hands the device back to its
 * controller. A manual or off mode expires back to auto after `ttl_s`, else
 * after the configured default (`manual.defaultExpiryS`, 1 h); only
 * `until_changed: true` keeps it until the next command (refused for a
 * heater's or CO2 valve's manual on).
 */
export const DeviceCommandSchema = Type.Object(
  {
    device: Type.String({ minLength: 1, maxLength: 64 }),
    state: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)])),
    mode: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('manual'), Type.Literal('off')])),
    ttl_s: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 7 * 86_400 })),
    until_changed: Type.Optional(Type.Boolean()),
    by: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);

/** A setpoint change, on the same channel and stream: `{setpoint, value, by}`. */
export const SetpointCommandSchema = Type.Object(
  {
    setpoint: Type.String({ minLength: 1, maxLength: 64 }),
    value: Type.Number(),
    by: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);

/**
 * Reload the schedules and rules from the database (the API appends it after
 * a change): `{reload: "programs", by}`.
 */
export const ReloadCommandSchema = Type.Object(
  { reload: Type.Literal('programs'), by: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);
export type ReloadCommand = Static<typeof ReloadCommandSchema>;

/**
 * Set a room's grow cycle (the API appends it, operator):
 * `{cycle: {location, stage, start: "YYYY-MM-DD"}, by}`. The automation
 * checks the stage against the room's VPD targets, keeps it in
 * `automation:state` under `_cycles` and uses it instead of `stages[location]`.
 */
export const CycleCommandSchema = Type.Object(
  {
    cycle: Type.Object(
      {
        location: Type.String({ minLength: 1, maxLength: 128 }),
        stage: Type.String({ minLength: 1, maxLength: 64 }),
        start: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
      },
      { additionalProperties: false },
    ),
    by: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);
export type CycleCommand = Static<typeof CycleCommandSchema>;

/** One entry of `_cycles` in `automation:state` (JSON `{location: CycleState}`). */
export interface CycleState {
  stage: string;
  /** `YYYY-MM-DD`, the first day of the cycle. */
  start: string;
  by: string;
  /** ISO time the command was applied. */
  at: string;
}

export interface DeviceCommand {
  device: string;
  state?: 0 | 1;
  mode: 'auto' | 'manual' | 'off';
  ttl_s?: number;
  /** Keep the mode until the next command (no expiry). */
  until_changed?: true;
  by: string;
}
export type SetpointCommand = Static<typeof SetpointCommandSchema>;
