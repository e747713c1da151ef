import { Type, type Static } from '@sinclair/typebox';
import { EnergySchema } from '../energy.js';
import { TargetsSchema } from '../targets-schema.js';

/**
 * The devices file (config/devices.yaml) as a JSON schema. Numbers that are
 * targets may be given inline or as the name of a setpoint (a string), so
 * `PUT /api/setpoints/:name` can change them at run time.
 */
const Target = Type.Union([Type.Number(), Type.String({ minLength: 1 })]);
const Action = Type.Union([Type.Literal('raise'), Type.Literal('lower')], {
  description: 'raise: on while the value is below its target (heater); lower: on while above (fan)',
});
const Clock = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' });

export const ConditionSchema = Type.Union([
  Type.Object(
    { device: Type.String({ minLength: 1 }), state: Type.Union([Type.Literal(0), Type.Literal(1)]) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      sensor: Type.String({ minLength: 1 }),
      above: Type.Optional(Target),
      below: Type.Optional(Target),
    },
    { additionalProperties: false },
  ),
]);

const When = Type.Optional(Type.Array(ConditionSchema));

export const HysteresisSchema = Type.Object(
  {
    type: Type.Literal('hysteresis'),
    sensor: Type.String({ minLength: 1 }),
    setpoint: Target,
    band: Type.Number({ minimum: 0 }),
    action: Action,
    when: When,
  },
  { additionalProperties: false },
);

const DayNight = Type.Object({ day: Target, night: Target }, { additionalProperties: false });
export const VpdSchema = Type.Object(
  {
    type: Type.Literal('vpd'),
    temp: Type.String({ minLength: 1 }),
    rh: Type.String({ minLength: 1 }),
    leafOffsetC: Type.Optional(Type.Number({ minimum: -10, maximum: 10 })),
    /** stage → day/night target in kPa. */
    targets: Type.Record(Type.String(), DayNight),
    band: Type.Number({ minimum: 0 }),
    action: Action,
    /** Day while this device is on (usually the room's lights); else by schedule. */
    day: Type.Union([
      Type.Object({ device: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
      Type.Object({ on: Clock, off: Clock }, { additionalProperties: false }),
    ]),
    when: When,
  },
  { additionalProperties: false },
);

export const ScheduleSchema = Type.Object(
  { type: Type.Literal('schedule'), on: Clock, off: Clock, when: When },
  { additionalProperties: false },
);

export const PidSchema = Type.Object(
  {
    type: Type.Literal('pid'),
    sensor: Type.String({ minLength: 1 }),
    setpoint: Target,
    action: Action,
    kp: Type.Number(),
    ki: Type.Optional(Type.Number({ minimum: 0 })),
    kd: Type.Optional(Type.Number({ minimum: 0 })),
    /** Length of one time-proportioning window. */
    windowS: Type.Number({ exclusiveMinimum: 0 }),
    when: When,
  },
  { additionalProperties: false },
);

export const ControlSchema = Type.Union([HysteresisSchema, VpdSchema, ScheduleSchema, PidSchema]);

export const SafetySchema = Type.Object(
  {
    minOnS: Type.Optional(Type.Number({ minimum: 0 })),
    minOffS: Type.Optional(Type.Number({ minimum: 0 })),
    /** 0: no limit. */
    maxOnS: Type.Optional(Type.Number({ minimum: 0 })),
    /** Switch-ons (transitions out of the safe state) allowed per window; 0: no limit. */
    maxStarts: Type.Optional(Type.Integer({ minimum: 0 })),
    windowS: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    staleAfterS: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  },
  { additionalProperties: false },
);

export const DeviceSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
    /** Friendly name the dashboard shows first, e.g. "Dehumidifier (back)"; default: the name. */
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 80 })),
    location: Type.String({ minLength: 1 }),
    cluster: Type.String({ minLength: 1 }),
    kind: Type.String({ minLength: 1 }),
    output: Type.Object(
      {
        address: Type.Integer({ minimum: 0x20, maximum: 0x27 }),
        port: Type.Union([Type.Literal('A'), Type.Literal('B')]),
        pin: Type.Integer({ minimum: 0, maximum: 7 }),
        activeLow: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
    safeState: Type.Union([Type.Literal(0), Type.Literal(1)]),
    wattage: Type.Optional(Type.Number({ minimum: 0 })),
    mode: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('manual'), Type.Literal('off')])),
    safety: Type.Optional(SafetySchema),
    control: Type.Optional(ControlSchema),
    /**
     * The sensor the room's hard limit reads for this device (a heater's
     * temperature, a CO2 valve's CO2); default: its controller's sensor.
     */
    limitSensor: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export const SetpointSchema = Type.Object(
  {
    /** Friendly name on the dashboard, e.g. "Flower temperature"; default: the setpoint's name. */
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 80 })),
    value: Type.Number(),
    min: Type.Optional(Type.Number()),
    max: Type.Optional(Type.Number()),
    unit: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** Hard limits of one room (a `location`), which no mode overrides. */
export const RoomSchema = Type.Object(
  {
    /** Heaters of the room go off above this temperature (°C). */
    maxTemp: Type.Optional(Target),
    /** CO2 valves of the room close above this concentration (ppm). */
    co2Ceiling: Type.Optional(Target),
  },
  { additionalProperties: false },
);

/** What manual commands may do. */
export const ManualSchema = Type.Object(
  {
    /** A manual or off command without `ttl_s` ends after this (default 3600 s). */
    defaultExpiryS: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    /** The longest `ttl_s` accepted, and the longest a restored expiry may run (default 86400 s). */
    maxExpiryS: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  },
  { additionalProperties: false },
);

export const DevicesFileSchema = Type.Object(
  {
    timeZone: Type.Optional(Type.String({ minLength: 1 })),
    /** Defaults for every device's `safety`. */
    safety: Type.Optional(SafetySchema),
    setpoints: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), SetpointSchema)),
    /** location → growth stage (selects VPD targets). */
    stages: Type.Optional(Type.Record(Type.String(), Type.String({ minLength: 1 }))),
    /** Groups of devices never on together. */
    exclusive: Type.Optional(Type.Array(Type.Array(Type.String(), { minItems: 2 }))),
    /** location → hard limits. */
    rooms: Type.Optional(Type.Record(Type.String({ minLength: 1 }), RoomSchema)),
    manual: Type.Optional(ManualSchema),
    /** location → stage → bands the dashboard judges values by (src/cea/targets.ts). */
    targets: Type.Optional(TargetsSchema),
    /** Price of energy for the dashboard's cost since the cycle start (src/cea/energy.ts). */
    energy: Type.Optional(EnergySchema),
    devices: Type.Array(DeviceSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type DevicesFile = Static<typeof DevicesFileSchema>;
export type DeviceFileEntry = Static<typeof DeviceSchema>;
export type ControlSpec = Static<typeof ControlSchema>;
export type Condition = Static<typeof ConditionSchema>;
export type TargetRef = Static<typeof Target>;
export type SetpointSpec = Static<typeof SetpointSchema>;
