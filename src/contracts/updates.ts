import { Type, type Static } from '@sinclair/typebox';
import { jsonCodec, type Codec } from '../bus/codec.js';
import type { Validator } from '../bus/validate.js';
import { isoProblem, schemaValidator } from './validator.js';

/**
 * The two update messages every consumer reads: `sensor:update…` (the
 * worker) and `device:update…` (the automation), JSON on the broad,
 * location and location:cluster channels (see names.ts). Extra fields are
 * allowed (the automation adds `reason`, `simulated`); the named ones must
 * have their types.
 */

const Name = Type.String({ minLength: 1 });
/** ISO-8601 UTC with milliseconds, `2024-01-15T10:30:00.000Z`. */
const IsoTime = Type.String({ minLength: 1, description: 'ISO-8601 UTC with milliseconds' });

export const SensorUpdateSchema = Type.Object(
  {
    location: Name,
    cluster: Name,
    /** Sensor name → accepted, calibrated value. */
    sensor_data: Type.Record(Type.String(), Type.Number()),
    timestamp: IsoTime,
  },
  { title: 'SensorUpdate', description: 'sensor:update message' },
);
/** One `sensor:update` message. */
export type SensorUpdate = Static<typeof SensorUpdateSchema>;

/** What set a device's current state (`DeviceUpdate.source`). */
export const DeviceSourceSchema = Type.Union([
  Type.Literal('schedule'),
  Type.Literal('rule'),
  Type.Literal('manual'),
  Type.Literal('mode'),
  Type.Literal('safety'),
  Type.Literal('failsafe'),
]);
export type DeviceSource = Static<typeof DeviceSourceSchema>;
/** What became of a command: applied, held back (min on/off, start limit), or refused. */
export const CommandOutcomeSchema = Type.Union([
  Type.Literal('applied'),
  Type.Literal('held'),
  Type.Literal('refused'),
]);
export type CommandOutcome = Static<typeof CommandOutcomeSchema>;

export const DeviceUpdateSchema = Type.Object(
  {
    location: Name,
    cluster: Name,
    device: Name,
    /** 1 on, 0 off. */
    state: Type.Number(),
    /** `auto`, `manual`, `off` (and `failsafe` when the automation holds its safe state). */
    mode: Type.String(),
    timestamp: IsoTime,
    /** Why the device is in this state, or why a command or a switch was refused or held back. */
    reason: Type.Optional(Type.String()),
    /** Present (true) when the relays are a simulated chip: nothing physical switches. */
    simulated: Type.Optional(Type.Literal(true)),
    /** Friendly name from the devices file (`label:`), e.g. "Dehumidifier (back)". */
    label: Type.Optional(Type.String()),
    /** What the device is (`heater`, `co2_valve`, `lights`, …), from the devices file. */
    kind: Type.Optional(Type.String()),
    /** When the state last changed (ISO). */
    since: Type.Optional(IsoTime),
    /** What set the current state: a schedule, a rule (controller), a manual command, a mode change, a safety limit, the failsafe. */
    source: Type.Optional(DeviceSourceSchema),
    /** When a manual or off mode returns to auto (ISO); absent in auto or "until changed". */
    expires_at: Type.Optional(IsoTime),
    /** While a switch is held back by min on/off time or the start limit: what it wants, until when, and why. */
    held: Type.Optional(
      Type.Object({ want: Type.Union([Type.Literal(0), Type.Literal(1)]), until: IsoTime, why: Type.String() }),
    ),
    /** On the update that answers a command: the command's entry id on `actuators:commands` and what became of it. */
    command: Type.Optional(
      Type.Object({
        id: Type.String({ minLength: 1 }),
        outcome: CommandOutcomeSchema,
        reason: Type.String(),
      }),
    ),
  },
  { title: 'DeviceUpdate', description: 'device:update message' },
);
/** One `device:update` message. */
export type DeviceUpdate = Static<typeof DeviceUpdateSchema>;

/**
 * What the automation needs of a sensor update: its readings (it ages
 * them from when they arrive, so location, cluster and time are optional).
 */
export const SensorReadingsSchema = Type.Object(
  {
    sensor_data: Type.Record(Type.String(), Type.Unknown()),
    timestamp: Type.Optional(Type.Unknown()),
  },
  { description: 'the part of a sensor:update the automation reads' },
);
export type SensorReadings = Static<typeof SensorReadingsSchema>;

/** Validator of `sensor:update` messages (a bus {@link Validator}; stateless, compiled once). */
export const checkSensorUpdate: Validator<SensorUpdate> = schemaValidator(SensorUpdateSchema, (u) =>
  isoProblem(u.timestamp),
);
/** Validator of `device:update` messages. */
export const checkDeviceUpdate: Validator<DeviceUpdate> = schemaValidator(DeviceUpdateSchema, (u) =>
  isoProblem(u.timestamp),
);
/** Validator of the readings of a sensor update (what the automation takes). */
export const checkSensorReadings: Validator<SensorReadings> = schemaValidator(SensorReadingsSchema);

/** Both update messages travel as JSON. */
export const UPDATE_CODEC: Codec = jsonCodec;
