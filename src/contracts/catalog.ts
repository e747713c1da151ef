import type { TSchema } from '@sinclair/typebox';
import { DeviceCommandSchema } from './commands.js';
import {
  AdminMessageSchema,
  AlertUpdateSchema,
  AnalyticsSnapshotSchema,
  AutomationEventSchema,
  CanRawFieldsSchema,
  HeartbeatSchema,
  JsonObjectSchema,
  NumberTextSchema,
} from './messages.js';
import * as N from './names.js';
import { DeviceUpdateSchema, SensorUpdateSchema } from './updates.js';
import { USER_MESSAGE_SCHEMAS, userPattern } from './user-channels.js';

/** What kind of Redis thing a name is. */
export type ContractType = 'stream' | 'consumer group' | 'channel' | 'string' | 'hash' | 'list' | 'sorted set';

/** How its values are written. */
export type ContractCodec = 'stream fields' | 'json' | 'text' | 'msgpack (json accepted)';

/** One name of the system, with everything a program that uses it must know. */
export interface ContractEntry {
  /** The name, or its pattern with `<placeholders>` / `{placeholders}`. */
  name: string;
  type: ContractType;
  codec: ContractCodec;
  /** The TypeBox schema of one message, value or entry; absent for names that carry no value of ours. */
  schema?: TSchema;
  /** Its TTL or trimming rule. */
  lifetime: string;
  producers: readonly string[];
  consumers: readonly string[];
  description: string;
}

/** `sensor:update`, `sensor:update:{location}`, `sensor:update:{location}:{cluster}`. */
function topicName(base: string): string {
  return `${base}, ${base}:{location}, ${base}:{location}:{cluster}`;
}

/** Every channel, stream and key of Canopy, in the order docs/contracts.md lists them. */
export function contractCatalog(): ContractEntry[] {
  return [
    {
      name: N.CAN_RAW,
      type: 'stream',
      codec: 'stream fields',
      schema: CanRawFieldsSchema,
      lifetime: 'MAXLEN ~2,000,000 (CANOPY_STREAM_MAXLEN) or MINID by age (CANOPY_STREAM_MINID_MS)',
      producers: ['scanner'],
      consumers: ['worker', 'api (lag)', 'monitor'],
      description: 'every raw CAN frame, fields id, data, ts, dlc',
    },
    {
      name: `${N.CAN_WORKER_GROUP} on ${N.CAN_RAW}`,
      type: 'consumer group',
      codec: 'stream fields',
      lifetime: 'entries acked only after they are stored',
      producers: [],
      consumers: ['worker'],
      description: "the worker's consumer group; pending entries are claimed after a crash",
    },
    {
      name: N.CAN_RAW_DEAD,
      type: 'stream',
      codec: 'stream fields',
      lifetime: 'MAXLEN ~100,000',
      producers: ['worker'],
      consumers: ['api', 'monitor'],
      description: 'dead letters: entries the worker could not process after its retries, with the reason',
    },
    {
      name: N.WORKER_STATS,
      type: 'hash',
      codec: 'text',
      lifetime: 'kept',
      producers: ['worker'],
      consumers: ['api (/metrics)'],
      description: "the worker's counters (frames, stored, rejected_<reason>), added to with HINCRBY",
    },
    {
      name: `${N.sensorKey('<sensor>')}, ${N.sensorTsKey('<sensor>')}`,
      type: 'string',
      codec: 'text',
      schema: NumberTextSchema,
      lifetime: `TTL ${N.SENSOR_LIVE_TTL_S} s`,
      producers: ['worker'],
      consumers: ['api', 'automation', 'alerts', 'analytics', 'exporter', 'monitor'],
      description: 'the live value as text (`23.55`) and its time (unix ms)',
    },
    {
      name: topicName(N.SENSOR_UPDATE),
      type: 'channel',
      codec: 'json',
      schema: SensorUpdateSchema,
      lifetime: 'pub/sub (not kept)',
      producers: ['worker'],
      consumers: ['api', 'automation', 'alerts', 'analytics', 'exporter', 'recorder'],
      description: 'accepted readings of one room and cluster, published on all three channels',
    },
    {
      name: topicName(N.DEVICE_UPDATE),
      type: 'channel',
      codec: 'json',
      schema: DeviceUpdateSchema,
      lifetime: 'pub/sub (not kept)',
      producers: ['automation'],
      consumers: ['api', 'alerts', 'exporter', 'recorder'],
      description: 'a device changed output or mode (or a command was refused or held back: `reason`)',
    },
    {
      name: N.ACTUATORS_COMMANDS,
      type: 'stream',
      codec: 'json',
      schema: DeviceCommandSchema,
      lifetime: 'MAXLEN ~10,000',
      producers: ['api', 'operators (XADD)'],
      consumers: ['automation'],
      description:
        'device, setpoint, reload and grow-cycle (`{cycle:{location,stage,start},by}`) commands, field `command` (JSON) or one field per key; consumed by the automation group; the device:update answering a device command carries its entry id',
    },
    {
      name: N.CONTROL_COMMAND,
      type: 'channel',
      codec: 'json',
      schema: DeviceCommandSchema,
      lifetime: 'pub/sub (not kept)',
      producers: ['automation'],
      consumers: ['recorder'],
      description:
        'announcement of an applied command, never an input: only the automation may publish it (it publishes nothing there yet); the recorder records it',
    },
    {
      name: N.AUTOMATION_EVENTS,
      type: 'channel',
      codec: 'json',
      schema: AutomationEventSchema,
      lifetime: 'pub/sub (not kept)',
      producers: ['automation'],
      consumers: ['api', 'alerts', 'recorder', 'monitor'],
      description: 'why the automation changed a device (failsafe, fault, schedule, …)',
    },
    {
      name: N.AUTOMATION_STATE,
      type: 'hash',
      codec: 'json',
      schema: JsonObjectSchema,
      lifetime: 'kept',
      producers: ['automation'],
      consumers: ['automation', 'api (setpoints, on-time)'],
      description: 'persisted device states and modes, `_setpoints` and `_ontime`',
    },
    {
      name: N.deviceLastKey('<device>'),
      type: 'string',
      codec: 'json',
      schema: DeviceUpdateSchema,
      lifetime: 'kept (overwritten at every update of the device)',
      producers: ['automation'],
      consumers: ['api (device states at start)'],
      description: 'the latest `device:update` of one device, without its `command` answer',
    },
    {
      name: `${N.AUTOMATION_LEASE_PREFIX}<name>`,
      type: 'string',
      codec: 'text',
      lifetime: 'TTL of the lease',
      producers: ['automation'],
      consumers: ['automation'],
      description: 'one automation instance drives the relays',
    },
    {
      name: topicName(N.ALERTS_UPDATE),
      type: 'channel',
      codec: 'json',
      schema: AlertUpdateSchema,
      lifetime: 'pub/sub (not kept)',
      producers: ['alerts'],
      consumers: ['api', 'recorder', 'monitor'],
      description: 'an alert fired, was reminded or resolved: `{type, alert}`',
    },
    {
      name: `${N.ALERTS_ACTIVE}, ${N.ALERTS_RECENT}`,
      type: 'string',
      codec: 'json',
      lifetime: 'kept; recent holds the last 200 transitions',
      producers: ['alerts'],
      consumers: ['api'],
      description: 'active alerts and recent transitions (JSON arrays, newest first)',
    },
    {
      name: N.ALERTS_ACKS,
      type: 'stream',
      codec: 'json',
      lifetime: 'MAXLEN ~1,000',
      producers: ['api'],
      consumers: ['alerts'],
      description: 'acknowledgements of active alerts (operator token): field `ack` = `{key, since, by}`',
    },
    {
      name: topicName(N.ANALYTICS_UPDATE),
      type: 'channel',
      codec: 'json',
      schema: AnalyticsSnapshotSchema,
      lifetime: 'pub/sub (not kept)',
      producers: ['analytics'],
      consumers: ['api', 'recorder', 'monitor'],
      description: 'rolling statistics per sensor and room',
    },
    {
      name: `${N.ANALYTICS_LATEST}, ${N.analyticsDailyKey('<YYYY-MM-DD>')}`,
      type: 'string',
      codec: 'json',
      schema: AnalyticsSnapshotSchema,
      lifetime: 'latest: TTL max(60 s, 3 × publish interval); daily: TTL 35 days',
      producers: ['analytics'],
      consumers: ['api'],
      description: 'the latest snapshot and each day’s extremes',
    },
    {
      name: `${N.HEARTBEAT_PREFIX}{instance}`,
      type: 'string',
      codec: 'json',
      schema: HeartbeatSchema,
      lifetime: `TTL ${N.HEARTBEAT_TTL_S} s, refreshed every 10 s`,
      producers: ['every service'],
      consumers: ['canopy status', 'doctor', 'monitor'],
      description: 'a running process: service, pid, host, version, started_at and its counters',
    },
    {
      name: N.identityKey('{scope}', '{id}'),
      type: 'string',
      codec: 'json',
      schema: JsonObjectSchema,
      lifetime: `TTL ${N.IDENTITY_TTL_S / 3600} h; listed by SCAN, never KEYS`,
      producers: ['worker (scope can-node)', 'gateway (scope relay)'],
      consumers: ['api', 'monitor'],
      description: 'who is out there: CAN nodes, connected edge relays',
    },
    {
      name: N.IDENTITY_CLEANUP_LEASE,
      type: 'string',
      codec: 'text',
      lifetime: 'TTL of the lease',
      producers: ['worker', 'gateway'],
      consumers: ['worker', 'gateway'],
      description: 'elects (SET NX PX) the one process that cleans up identity records in a round',
    },
    {
      name: `${N.ADMIN_PREFIX}{instance}, ${N.ADMIN_QUEUE_PREFIX}{instance}`,
      type: 'list',
      codec: 'json',
      schema: AdminMessageSchema,
      lifetime: `queue: TTL ${N.ADMIN_QUEUE_TTL_S / 3600} h, drained on start`,
      producers: ['canopy admin'],
      consumers: ['every service'],
      description: 'admin messages (channel) and their durable copy (list)',
    },
    {
      name: `${N.ADMIN_REPLY_PREFIX}{id}`,
      type: 'list',
      codec: 'json',
      lifetime: 'short TTL, read once',
      producers: ['every service'],
      consumers: ['canopy admin'],
      description: 'the reply to one admin message',
    },
    {
      name: `${N.SPOOL_ACK_PREFIX}<writer>`,
      type: 'string',
      codec: 'text',
      lifetime: 'kept',
      producers: ['scanner'],
      consumers: ['scanner'],
      description: 'how far a scanner’s spool has been replayed into can:raw (exactly once)',
    },
    ...(['raw', 'features'] as const).map((kind): ContractEntry => ({
      name: userPattern(kind).replace('*', '{user_id}'),
      type: 'channel',
      codec: 'msgpack (json accepted)',
      schema: USER_MESSAGE_SCHEMAS[kind],
      lifetime: 'pub/sub (not kept)',
      producers: ['gateway (from the edge relay)'],
      consumers: ['ML consumers', 'api (viewer)', 'recorder (when configured)'],
      description: `a user's ${kind} data`,
    })),
    ...(['predictions', 'commands', 'alerts'] as const).map((kind): ContractEntry => ({
      name: userPattern(kind).replace('*', '{user_id}'),
      type: 'channel',
      codec: 'msgpack (json accepted)',
      schema: USER_MESSAGE_SCHEMAS[kind],
      lifetime: 'pub/sub; the gateway keeps a short backlog',
      producers: ['ML consumers'],
      consumers:
        kind === 'predictions' ? ['gateway (to the edge relay)', 'api (viewer)'] : ['gateway (to the edge relay)'],
      description: `back-channel ${kind} to a user's edge relay`,
    })),
    {
      name: userPattern('backlog').replace('*', '{user_id}'),
      type: 'stream',
      codec: 'msgpack (json accepted)',
      lifetime: 'entries older than 60 s trimmed (CANOPY_GATEWAY_BACKLOG_MS)',
      producers: ['gateway'],
      consumers: ['gateway'],
      description: 'back-channel messages a reconnecting relay missed',
    },
    {
      name: `${userPattern('backlog').replace('*', '{user_id}')}:seen`,
      type: 'sorted set',
      codec: 'text',
      lifetime: 'members older than the backlog window removed; the key expires with the backlog',
      producers: ['gateway'],
      consumers: ['gateway'],
      description:
        'which back-channel messages the backlog holds (member: hash of kind and payload with its occurrence; score: the backlog id), so every gateway may append each message and it is there once',
    },
  ];
}
