import { Type } from '@sinclair/typebox';
import { deviceSchema, liveSchema, Nullable, StringEnum } from './schemas.js';

/** OpenAPI schemas of GET /api/rooms, PUT /api/rooms/:location/cycle and GET /api/energy. */

const STATUS = ['ok', 'attention', 'alarm', 'unknown'] as const;
const KEY_STATUS = ['ok', 'attention', 'alarm', 'stale', 'unknown'] as const;
const QUANTITY = ['temperature', 'rh', 'vpd_air', 'vpd_leaf', 'co2', 'lights'] as const;

export const keyValueSchema = Type.Object({
  quantity: StringEnum(QUANTITY),
  sensor: Type.Optional(Type.String({ description: 'the sensor read (absent for leaf VPD, computed, and lights)' })),
  label: Type.String({ description: 'e.g. Temperature, Leaf VPD' }),
  unit: Type.String(),
  value: Nullable(Type.Number({ description: 'lights: 1 on, 0 off' })),
  ts: Nullable(Type.Integer({ description: 'unix ms of the reading' })),
  stale: Type.Boolean(),
  target: Type.Optional(Type.Number()),
  low: Type.Optional(Type.Number({ description: 'below: attention' })),
  high: Type.Optional(Type.Number({ description: 'above: attention' })),
  alarmLow: Type.Optional(Type.Number({ description: 'below: alarm' })),
  alarmHigh: Type.Optional(Type.Number({ description: 'above: alarm' })),
  status: StringEnum(KEY_STATUS),
  text: Type.Optional(Type.String({ description: 'why (e.g. "above 27.0 °C"), or the lights\' "on until 18:00"' })),
  decimals: Type.Integer({ description: 'digits to show' }),
});

export const cycleSchema = Type.Object({
  stage: Type.String(),
  start: Type.String({ description: 'YYYY-MM-DD, week 1 day 1' }),
  week: Type.Integer(),
  day: Type.Integer(),
  label: Type.String({ description: 'e.g. "week 3, day 6"' }),
});

export const roomAlertSchema = Type.Object({
  id: Type.String(),
  rule: Type.String(),
  severity: Type.String(),
  message: Type.String(),
  location: Type.Optional(Type.String()),
  cluster: Type.Optional(Type.String()),
  sensor: Type.Optional(Type.String()),
  since: Type.String({ description: 'ISO time it started' }),
  acknowledged: Type.Optional(Type.Object({ by: Type.String(), at: Type.String() })),
});

const dayEnergy = Type.Object({ date: Type.String(), hours: Type.Number(), kwh: Type.Number() });
export const energyUseSchema = Type.Object({
  since: Type.String({ description: 'first local day counted: the cycle start, else 7 days ago' }),
  kwh: Type.Number(),
  cost: Nullable(Type.Number({ description: 'kWh × energy.pricePerKwh; null without a price' })),
  currency: Nullable(Type.String()),
  devices: Type.Array(
    Type.Object({ device: Type.String(), wattage: Type.Number(), kwh: Type.Number(), days: Type.Array(dayEnergy) }),
  ),
});

export const roomViewSchema = Type.Object({
  location: Type.String(),
  cluster: Type.String(),
  label: Type.String({ description: 'friendly name of the room' }),
  status: StringEnum(STATUS, { description: 'worst of the key values and active alerts' }),
  stage: Nullable(Type.String({ description: "growth stage: the cycle's, else stages: of devices.yaml" })),
  stages: Type.Array(Type.String(), { description: 'the stages the cycle may be set to' }),
  cycle: Type.Union([cycleSchema, Type.Null()]),
  key: Type.Array(keyValueSchema),
  alerts: Type.Array(roomAlertSchema),
  sensors: Type.Array(Type.Intersect([liveSchema, Type.Object({ label: Type.String() })])),
  devices: Type.Array(deviceSchema),
  energy: Type.Union([energyUseSchema, Type.Null()]),
});

export const cycleBody = Type.Object(
  {
    stage: Type.String({ minLength: 1, maxLength: 64 }),
    start: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD' }),
  },
  { additionalProperties: false },
);

export const energyResponse = Type.Object({
  pricePerKwh: Nullable(Type.Number()),
  currency: Nullable(Type.String()),
  rooms: Type.Array(
    Type.Intersect([
      Type.Object({ location: Type.String(), cluster: Type.String(), label: Type.String() }),
      energyUseSchema,
    ]),
  ),
});
