import { Type, type Static } from '@sinclair/typebox';

/**
 * The node map (config/nodes.yaml) and the sensor settings
 * (config/sensors.yaml) as JSON schemas: the shape of each file, unknown
 * keys refused. What a schema cannot say (a node listed twice, min above
 * max, a base of an unknown kind) is checked by src/cea/config.ts.
 */

const Name = Type.String({ minLength: 1 });
/** An integer ≥ 0, or one written as text (`'0x1F'`, `'12'`). */
const Int = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^(0[xX][0-9a-fA-F]+|[0-9]+)$' })]);
const Names = Type.Union([Type.Record(Type.String(), Name), Type.Null()]);
const closed = { additionalProperties: false } as const;

export const NodeEntrySchema = Type.Object(
  {
    /** Node number (the CAN id's upper bits). */
    node: Int,
    location: Name,
    cluster: Name,
    /** `f` → `dry_bulb_f`; empty or absent → `dry_bulb`. */
    suffix: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    /** Message type names this node sends (they define its sensors). */
    messages: Type.Optional(Type.Union([Type.Array(Name), Type.Null()])),
    /** Explicit sensor names by base, overriding base + suffix. */
    sensors: Type.Optional(Names),
  },
  closed,
);

export const NodeMapSchema = Type.Object(
  {
    idScheme: Type.Optional(Type.Object({ nodeShift: Type.Optional(Int), typeMask: Type.Optional(Int) }, closed)),
    /** Type code → type name. */
    messageTypes: Type.Optional(Type.Record(Type.String(), Name)),
    /** Type name → DBC signal → sensor base. */
    signals: Type.Optional(Type.Record(Type.String(), Names)),
    /** Type name → fault signal and the bit that invalidates each signal. */
    faults: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Object(
          { signal: Name, bits: Type.Record(Type.String(), Type.Integer({ minimum: 0, maximum: 31 })) },
          closed,
        ),
      ),
    ),
    psychrometer: Type.Optional(
      Type.Union([Type.Object({ dry: Name, wet: Name, pressure: Name, rh: Name, vpd: Name }, closed), Type.Null()]),
    ),
    nodes: Type.Array(NodeEntrySchema, { minItems: 1 }),
  },
  closed,
);

const Num = Type.Number();
const Limits = Type.Object(
  { min: Type.Optional(Num), max: Type.Optional(Num), maxRatePerSecond: Type.Optional(Type.Number({ minimum: 0 })) },
  closed,
);

/** An empty file (null) is no settings: the shipped ones apply. */
export const SensorSettingsSchema = Type.Object(
  {
    /** Kind → unit, valid range and largest plausible change per second. */
    kinds: Type.Optional(
      Type.Union([
        Type.Record(
          Type.String(),
          Type.Object(
            {
              unit: Type.Optional(Type.String()),
              min: Type.Optional(Num),
              max: Type.Optional(Num),
              maxRatePerSecond: Type.Optional(Type.Number({ minimum: 0 })),
            },
            closed,
          ),
        ),
        Type.Null(),
      ]),
    ),
    /** Sensor base → kind. */
    bases: Type.Optional(Names),
    /** Friendly names shown on the dashboard: sensor name or base → label. */
    labels: Type.Optional(Names),
    /** Per-sensor overrides of the kind's limits. */
    limits: Type.Optional(Type.Union([Type.Record(Type.String(), Limits), Type.Null()])),
    /** Per-sensor calibration: value = raw × gain + offset. */
    calibration: Type.Optional(
      Type.Union([
        Type.Record(Type.String(), Type.Object({ offset: Type.Optional(Num), gain: Type.Optional(Num) }, closed)),
        Type.Null(),
      ]),
    ),
    psychrometer: Type.Optional(
      Type.Union([
        Type.Object(
          {
            coefficient: Type.Optional(Num),
            dryWickMarginC: Type.Optional(Num),
            defaultPressureKpa: Type.Optional(Num),
            rhTolerancePct: Type.Optional(Type.Number({ minimum: 0 })),
            pairWindowMs: Type.Optional(Type.Number({ minimum: 0 })),
          },
          closed,
        ),
        Type.Null(),
      ]),
    ),
    rateOfChange: Type.Optional(
      Type.Union([
        Type.Object(
          {
            minWindowS: Type.Optional(Type.Number({ minimum: 0 })),
            resetAfter: Type.Optional(Type.Number({ minimum: 0 })),
          },
          closed,
        ),
        Type.Null(),
      ]),
    ),
  },
  closed,
);

export type NodeMapFile = Static<typeof NodeMapSchema>;
export type SensorSettingsFile = Static<typeof SensorSettingsSchema>;
