import { Type, type Static } from '@sinclair/typebox';

/** The `targets:` block of config/devices.yaml (used by src/cea/control/schema.ts; resolved in ./targets.ts). */

/** The quantities a room card leads with (lights are judged by their schedule, not a band). */
export const BAND_QUANTITIES = ['temperature', 'rh', 'vpd_leaf', 'vpd_air', 'co2'] as const;
export type BandQuantity = (typeof BAND_QUANTITIES)[number];

const Ref = Type.Union([Type.Number(), Type.String({ minLength: 1 })]);

export const BandSchema = Type.Object(
  {
    target: Type.Optional(Ref),
    /** Below this (or above `high`): attention. */
    low: Type.Optional(Ref),
    high: Type.Optional(Ref),
    /** Below this (or above `alarmHigh`): alarm. */
    alarmLow: Type.Optional(Ref),
    alarmHigh: Type.Optional(Ref),
  },
  { additionalProperties: false },
);

export const StageTargetsSchema = Type.Object(
  {
    temperature: Type.Optional(BandSchema),
    rh: Type.Optional(BandSchema),
    vpd_leaf: Type.Optional(BandSchema),
    vpd_air: Type.Optional(BandSchema),
    co2: Type.Optional(BandSchema),
  },
  { additionalProperties: false },
);

/** location → stage → quantity → band. */
export const TargetsSchema = Type.Record(
  Type.String({ minLength: 1 }),
  Type.Record(Type.String({ minLength: 1 }), StageTargetsSchema),
  { description: 'location → growth stage → bands of temperature, rh, vpd_leaf, vpd_air, co2' },
);

export type BandSpec = Static<typeof BandSchema>;
export type TargetsFile = Static<typeof TargetsSchema>;
