import { Type, type Static } from '@sinclair/typebox';

/**
 * The other message shapes on Canopy's names (the update messages are in
 * updates.ts, the per-user ones in user-channels.ts, the commands in
 * commands.ts). Extra fields are allowed unless said otherwise: readers
 * take what they know.
 */

const IsoTime = Type.String({ minLength: 1, description: 'ISO-8601 UTC with milliseconds' });

/** The fields of one `can:raw` entry, as the scanner writes them (strings, as every stream field). */
export const CanRawFieldsSchema = Type.Object(
  {
    id: Type.String({ pattern: '^0x([0-9A-F]{3}|[0-9A-F]{8})$', description: 'hex CAN id, `0x101` or `0x00000343`' }),
    data: Type.String({
      pattern: '^([0-9A-F]{2}( [0-9A-F]{2}){0,63})?$',
      description: 'upper-case hex bytes, space separated, `AA FF 04 10`',
    }),
    ts: Type.String({ pattern: '^[0-9]{1,16}$', description: 'frame time, unix ms' }),
    dlc: Type.String({ pattern: '^[0-9]{1,2}$', description: 'number of data bytes, 0–8 (0–64 for CAN FD)' }),
  },
  { additionalProperties: false, description: 'can:raw entry fields' },
);
export type CanRawFields = Static<typeof CanRawFieldsSchema>;

/** What the automation publishes on `automation:events`: why it changed (or refused to change) a device. */
export const AutomationEventSchema = Type.Object(
  {
    type: Type.String({ minLength: 1, description: 'e.g. failsafe, fault, schedule' }),
    device: Type.Union([Type.String(), Type.Null()]),
    message: Type.String(),
    by: Type.Union([Type.String(), Type.Null()]),
    timestamp: IsoTime,
  },
  { description: 'automation:events message' },
);
export type AutomationEvent = Static<typeof AutomationEventSchema>;

/** One alert transition on `alerts:update`: `{type, alert}`. */
export const AlertUpdateSchema = Type.Object(
  {
    type: Type.Union([
      Type.Literal('fired'),
      Type.Literal('reminder'),
      Type.Literal('resolved'),
      Type.Literal('acknowledged'),
    ]),
    alert: Type.Record(Type.String(), Type.Unknown()),
  },
  { description: 'alerts:update message' },
);
export type AlertUpdate = Static<typeof AlertUpdateSchema>;

/** What `analytics:update` carries and `analytics:latest` holds (per-sensor and per-room statistics). */
export const AnalyticsSnapshotSchema = Type.Object(
  {
    timestamp: IsoTime,
    sensors: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
    rooms: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
  },
  { description: 'analytics:update message and analytics:latest value' },
);

/** `heartbeat:{instance}`: who runs, where, since when, and its counters. */
export const HeartbeatSchema = Type.Object(
  {
    service: Type.String({ minLength: 1 }),
    instance: Type.String({ minLength: 1 }),
    pid: Type.Integer(),
    host: Type.String(),
    version: Type.String(),
    started_at: IsoTime,
    updated_at: IsoTime,
  },
  { description: 'heartbeat:{instance} value' },
);

/** An admin message on `admin:{instance}` and in `admin:queue:{instance}`. */
export const AdminMessageSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    command: Type.String({ minLength: 1 }),
    args: Type.Record(Type.String(), Type.Unknown()),
    from: Type.String(),
    sent_at: IsoTime,
    expires_at: IsoTime,
    reply_to: Type.String({ minLength: 1 }),
  },
  { description: 'admin message' },
);

/** Any JSON object (identity records: each scope has its own fields). */
export const JsonObjectSchema = Type.Record(Type.String(), Type.Unknown(), { description: 'a JSON object' });

/** A live value: the float as text (`23.55`) or a time (unix ms) as text. */
export const NumberTextSchema = Type.String({ pattern: '^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$' });
