import { clusterAckKey, clusterDeadLetterStream } from '../bus/cluster/names.js';
import { topicChannels } from '../bus/topics.js';

/**
 * Every Redis name Canopy's processes share, byte for byte: other programs
 * (`redis-cli`, redis-py, Grafana) depend on them, so they are written here
 * once and everything else imports them. docs/contracts.md lists them
 * (generated from src/contracts by `npm run docs:contracts`).
 */

// ---- CAN frames ------------------------------------------------------------

/** Stream of raw frames, fields {@link CAN_RAW_FIELDS}. */
export const CAN_RAW = 'can:raw';
/** Dead letters of {@link CAN_RAW}: entries the worker could not process after its retries. */
export const CAN_RAW_DEAD = `${CAN_RAW}:dead`;
/** The worker's consumer group on {@link CAN_RAW}: entries are acked only after they are stored. */
export const CAN_WORKER_GROUP = 'can-worker';

/**
 * The dead-letter stream of any consumer-group stream (`can:raw` → `can:raw:dead`);
 * on a Redis Cluster `{can:raw}:dead`, in the slot of the stream (the dead-letter script touches both).
 */
export function deadLetterStream(stream: string, cluster = false): string {
  return cluster ? clusterDeadLetterStream(stream) : `${stream}:dead`;
}

/** {@link CAN_RAW_DEAD} on a Redis Cluster: `{can:raw}:dead`. */
export const CAN_RAW_DEAD_CLUSTER = clusterDeadLetterStream(CAN_RAW);

/** Hash of the worker's counters (frames, stored, rejected_<reason>), read by the API's /metrics. */
export const WORKER_STATS = 'stats:worker';

// ---- live values -----------------------------------------------------------

/** Prefix of the live keys: `sensor:<name>` (the value as text) and `sensor:<name>:ts` (unix ms). */
export const SENSOR_LIVE_PREFIX = 'sensor:';
/** TTL of both live keys, seconds. */
export const SENSOR_LIVE_TTL_S = 10;

/** `sensor:dry_bulb_f` */
export function sensorKey(sensor: string): string {
  return `${SENSOR_LIVE_PREFIX}${sensor}`;
}

/** `sensor:dry_bulb_f:ts` */
export function sensorTsKey(sensor: string): string {
  return `${sensorKey(sensor)}:ts`;
}

// ---- topic channels (broad, `:{location}`, `:{location}:{cluster}`) --------

/** Base of the sensor update channels. */
export const SENSOR_UPDATE = 'sensor:update';
/** Base of the device update channels. */
export const DEVICE_UPDATE = 'device:update';
/** Base of the analytics snapshot channels. */
export const ANALYTICS_UPDATE = 'analytics:update';
/** Base of the alert transition channels. */
export const ALERTS_UPDATE = 'alerts:update';

/** `sensor:update`, `sensor:update:Flower Room`, `sensor:update:Flower Room:front` (names used verbatim). */
export function updateChannels(base: string, location?: string, cluster?: string): string[] {
  return topicChannels(base, [location, cluster]);
}

/** The broad channel a topic channel belongs to (`sensor:update:Flower Room:front` → `sensor:update`). */
export function topicBase(channel: string): string {
  for (const b of [SENSOR_UPDATE, DEVICE_UPDATE, ANALYTICS_UPDATE, ALERTS_UPDATE]) {
    if (channel === b || channel.startsWith(`${b}:`)) return b;
  }
  return channel;
}

// ---- control ---------------------------------------------------------------

/** Stream of device, setpoint and reload commands, consumed by the automation's group. */
export const ACTUATORS_COMMANDS = 'actuators:commands';
/** The automation's announcement of each applied command (an output, never an input). */
export const CONTROL_COMMAND = 'control:command';
/** Prefix of the automation's keys (`automation:state`, `automation:lease:…`). */
export const AUTOMATION_PREFIX = 'automation:';
/** Prefix reserved for per-device keys (`device:*`: the automation may keep them, readers may read them). */
export const DEVICE_KEY_PREFIX = 'device:';

/**
 * `device:heater_f:last`: the device's latest `device:update` (JSON, without
 * the `command` answer), kept by the automation so a reader that starts
 * later (the API after a restart) knows every device's state at once.
 */
export function deviceLastKey(device: string): string {
  return `${DEVICE_KEY_PREFIX}${device}:last`;
}
/** Why the automation changed a device (failsafe, schedule, …). */
export const AUTOMATION_EVENTS = 'automation:events';
/** Hash of persisted device states and modes. */
export const AUTOMATION_STATE = `${AUTOMATION_PREFIX}state`;
/** Prefix of the automation's leases (`automation:lease:<name>`). */
export const AUTOMATION_LEASE_PREFIX = `${AUTOMATION_PREFIX}lease:`;

// ---- alerts and analytics keys ---------------------------------------------

/** Prefix of the alerts keys. */
export const ALERTS_PREFIX = 'alerts:';
/** JSON array of the active alerts. */
export const ALERTS_ACTIVE = `${ALERTS_PREFIX}active`;
/** JSON array of recent transitions, newest first. */
export const ALERTS_RECENT = `${ALERTS_PREFIX}recent`;
/** Stream of acknowledgements (`{key, since, by}` as JSON in field `ack`): the API appends, the alerts service reads. */
export const ALERTS_ACKS = `${ALERTS_PREFIX}acks`;

/** Prefix of the analytics keys. */
export const ANALYTICS_PREFIX = 'analytics:';
/** The latest snapshot (TTL max(60 s, 3 × the publish interval)). */
export const ANALYTICS_LATEST = `${ANALYTICS_PREFIX}latest`;

/** `analytics:daily:2024-01-15` (kept 35 days by default). */
export function analyticsDailyKey(day: string): string {
  return `${ANALYTICS_PREFIX}daily:${day}`;
}

// ---- the fabric every service uses -----------------------------------------

/** `heartbeat:{instance}`: TTL {@link HEARTBEAT_TTL_S}, refreshed every 10 s. */
export const HEARTBEAT_PREFIX = 'heartbeat:';
export const HEARTBEAT_TTL_S = 30;
/** `identity:{scope}:{id}`: TTL 24 h, listed by SCAN. */
export const IDENTITY_PREFIX = 'identity:';
export const IDENTITY_TTL_S = 86_400;
/** Registry scope of CAN nodes: `identity:can-node:<node>`. */
export const CAN_NODE_SCOPE = 'can-node';
/** Registry scope of connected edge relays: `identity:relay:<connection>`. */
export const RELAY_SCOPE = 'relay';
/** Lease of the identity cleanup election. */
export const IDENTITY_CLEANUP_LEASE = 'lease:identity-cleanup';

/** `identity:relay:c1` */
export function identityKey(scope: string, id: string): string {
  return `${IDENTITY_PREFIX}${scope}:${id}`;
}

/** `admin:{instance}` channel. */
export const ADMIN_PREFIX = 'admin:';
/** `admin:queue:{instance}` list: TTL {@link ADMIN_QUEUE_TTL_S}, drained on start. */
export const ADMIN_QUEUE_PREFIX = `${ADMIN_PREFIX}queue:`;
export const ADMIN_QUEUE_TTL_S = 3600;
/** `admin:reply:{id}` list of replies. */
export const ADMIN_REPLY_PREFIX = `${ADMIN_PREFIX}reply:`;
/** `spool:ack:<writer>`: how far a scanner's spool has been replayed into {@link CAN_RAW}. */
export const SPOOL_ACK_PREFIX = 'spool:ack:';

/**
 * A scanner's ack key: `spool:ack:<writer>`; on a Redis Cluster
 * `spool:ack:{can:raw}:<writer>`, in the slot of the stream (spool-append touches both).
 */
export function spoolAckKey(writer: string, stream: string = CAN_RAW, cluster = false): string {
  return cluster ? clusterAckKey(SPOOL_ACK_PREFIX, stream, writer) : `${SPOOL_ACK_PREFIX}${writer}`;
}

/** A glob over every name with this prefix (`heartbeat:` → `heartbeat:*`), for ACLs and SCAN. */
export function glob(prefix: string): string {
  return `${prefix}*`;
}
