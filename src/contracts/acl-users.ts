import { ConfigError } from '../bus/errors.js';
import type { AclGrant, AclUserSpec } from '../bus/acl.js';
import {
  ACTUATORS_COMMANDS,
  ADMIN_PREFIX,
  ADMIN_QUEUE_PREFIX,
  ADMIN_REPLY_PREFIX,
  ALERTS_ACKS,
  ALERTS_PREFIX,
  ALERTS_UPDATE,
  ANALYTICS_PREFIX,
  ANALYTICS_UPDATE,
  AUTOMATION_EVENTS as AUTOMATION_EVENTS_CHANNEL,
  AUTOMATION_PREFIX,
  AUTOMATION_STATE,
  CAN_RAW,
  CAN_RAW_DEAD,
  CONTROL_COMMAND,
  deadLetterStream,
  DEVICE_KEY_PREFIX,
  DEVICE_UPDATE as DEVICE_UPDATE_BASE,
  glob,
  HEARTBEAT_PREFIX,
  IDENTITY_CLEANUP_LEASE,
  IDENTITY_PREFIX,
  SENSOR_LIVE_PREFIX,
  SENSOR_UPDATE as SENSOR_UPDATE_BASE,
  SPOOL_ACK_PREFIX,
  WORKER_STATS,
} from './names.js';
import {
  BACKLOG,
  USER_CHANNEL_KINDS,
  USER_PREFIX,
  userBacklogSeenPattern,
  userPattern,
  type UserChannelKind,
} from './user-channels.js';

/**
 * The ACL users of Canopy's own services: each may run only the commands
 * and touch only the keys and channels of docs/contracts.md that it uses. Every
 * service also gets the fabric grants (heartbeat, admin mailbox, registry
 * reads). User names are `canopy-<service>`; a service finds its password
 * in its own `REDIS_URL` (`redis://canopy-worker:<password>@host:6379`).
 */

export const SERVICE_PREFIX = 'canopy-';

/** Channels of the topic messages (broad, level and specific; literal and pattern forms). */
function topic(base: string): string[] {
  return [base, `${base}:*`, `${base}*`];
}
const SENSOR_UPDATE = topic(SENSOR_UPDATE_BASE);
const DEVICE_UPDATE = topic(DEVICE_UPDATE_BASE);
const ANALYTICS = topic(ANALYTICS_UPDATE);
const ALERTS = topic(ALERTS_UPDATE);
/** Why the automation changed a device (failsafe, schedule, …). */
const AUTOMATION_EVENTS = [AUTOMATION_EVENTS_CHANNEL];
const SENSOR_KEYS = glob(SENSOR_LIVE_PREFIX);
/** Device keys (`device:*`): read by the API, alerts, exporter and monitor; kept by the automation. */
const DEVICE_KEYS = glob(DEVICE_KEY_PREFIX);
const AUTOMATION_KEYS = glob(AUTOMATION_PREFIX);
const HASH = ['hset', 'hget', 'hgetall', 'hdel'];
const SUBSCRIBE = ['subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe'];
const STREAM_READ = ['xlen', 'xrange', 'xrevrange', 'xinfo|stream', 'xinfo|groups', 'xinfo|consumers', 'xpending'];
/** What a consumer-group worker runs on its stream. */
const GROUP_WORK = [
  'xreadgroup',
  'xack',
  'xautoclaim',
  'xclaim',
  'xgroup|create',
  'xgroup|createconsumer',
  'xgroup|delconsumer',
  ...STREAM_READ,
];
const STRING_READ = ['get', 'mget', 'exists', 'ttl', 'pttl'];
const STRING_WRITE = ['set', 'mset', 'setex', 'psetex', 'del', 'unlink', 'expire', 'pexpire'];

function subscribe(...channels: string[][]): AclGrant {
  return { commands: SUBSCRIBE, channels: channels.flat() };
}

function publish(...channels: string[][]): AclGrant {
  return { commands: ['publish'], channels: channels.flat() };
}

/** Scripts run by EVALSHA, and by EVAL when the server does not know them yet (src/bus/lua-scripts.ts). */
const SCRIPT = ['evalsha', 'eval'];

/**
 * Presence, mailbox and registry, for every service (src/bus/presence.ts,
 * mailbox.ts, registry.ts): write its heartbeat, list and read heartbeats
 * (SCAN, never KEYS), receive admin messages on `admin:{instance}`, drain
 * `admin:queue:{instance}` (LREM, or the mailbox-drain script), push
 * replies to `admin:reply:{id}`, read identities.
 */
export function fabricGrants(): AclGrant[] {
  return [
    { commands: [...STRING_WRITE, ...STRING_READ], keys: [glob(HEARTBEAT_PREFIX)] },
    { commands: ['scan'] },
    { commands: STRING_READ, read: [glob(IDENTITY_PREFIX)] },
    subscribe([glob(ADMIN_PREFIX)]),
    { commands: ['lrange', 'lrem', 'lpop', 'llen', 'del', ...SCRIPT], keys: [glob(ADMIN_QUEUE_PREFIX)] },
    { commands: ['rpush', 'expire'], keys: [glob(ADMIN_REPLY_PREFIX)] },
  ];
}

/**
 * Writes `identity:{scope}:{id}` records (the registry's identity-touch script: GET + SET),
 * replays them from the fallback files, and may be elected for the identity cleanup.
 */
function identityWrites(): AclGrant {
  return {
    commands: [...STRING_WRITE, ...STRING_READ, ...SCRIPT, 'scan'],
    keys: [glob(IDENTITY_PREFIX), IDENTITY_CLEANUP_LEASE],
  };
}

/** A consumer group on `stream` with dead letters to `<stream>:dead` (src/bus/streams, dead-letter.lua). */
function groupWork(stream: string): AclGrant[] {
  return [
    { commands: GROUP_WORK, keys: [stream] },
    { commands: ['xadd'], write: [deadLetterStream(stream)] },
    { commands: SCRIPT, keys: [stream, deadLetterStream(stream)] },
    // a consumer blocked in XREADGROUP is woken with CLIENT UNBLOCK on stop
    { commands: ['client|unblock'] },
  ];
}

/** A service's own grants (without the fabric). */
export interface ServiceAcl {
  description: string;
  grants: AclGrant[];
}

/** Every Canopy service and what it may do. */
export const SERVICE_ACLS: Record<string, ServiceAcl> = {
  scanner: {
    description:
      'scanner: XADD frames to can:raw and nothing else; reads the stream tail to replay its spool without duplicates',
    grants: [
      { commands: ['xadd'], write: [CAN_RAW] },
      { commands: ['xlen', 'xrevrange', 'xinfo|stream'], read: [CAN_RAW] },
      // the spool's exactly-once replay: spool-append.lua adds entries and advances spool:ack:<writer>
      { commands: ['get', 'set'], keys: [glob(SPOOL_ACK_PREFIX)] },
      { commands: SCRIPT, keys: [CAN_RAW, glob(SPOOL_ACK_PREFIX)] },
      // under Sentinel a batch leaves the spool only once a replica holds it (WAIT)
      { commands: ['wait'] },
    ],
  },
  worker: {
    description:
      'worker: consumer group can-worker on can:raw, dead letters, live keys sensor:*, publishes sensor:update*',
    grants: [
      ...groupWork(CAN_RAW),
      { commands: [...STRING_WRITE, ...STRING_READ], keys: [SENSOR_KEYS] },
      identityWrites(),
      publish(SENSOR_UPDATE),
      // its counters for the API's /metrics
      { commands: ['hincrby'], keys: [WORKER_STATS] },
    ],
  },
  api: {
    description:
      'api: reads live keys, stream and group state, identities and analytics:latest; subscribes to updates and to user:*:raw|predictions (read only); control commands (operator token) to actuators:commands only; no other XADD, no PUBLISH, no writes',
    grants: [
      { commands: STRING_READ, read: [SENSOR_KEYS, DEVICE_KEYS, glob(ANALYTICS_PREFIX), glob(ALERTS_PREFIX)] },
      { commands: STREAM_READ, read: [CAN_RAW, CAN_RAW_DEAD, ACTUATORS_COMMANDS] },
      // /metrics reports the worker's counters
      { commands: ['hgetall'], read: [WORKER_STATS] },
      // GET /api/rooms, /api/energy, /api/setpoints, /api/on-time: setpoints, grow cycles and on time the automation keeps
      { commands: ['hget', 'hmget'], read: [AUTOMATION_STATE] },
      // POST /api/devices/:name and PUT /api/setpoints/:name append the command durably
      { commands: ['xadd'], write: [ACTUATORS_COMMANDS] },
      subscribe(SENSOR_UPDATE, DEVICE_UPDATE, ANALYTICS, ALERTS, AUTOMATION_EVENTS),
      // POST /api/alerts/:id/ack (operator token) appends the acknowledgement
      { commands: ['xadd'], write: [ALERTS_ACKS] },
      // the dashboard's live view of one user (viewer token): its raw data and predictions, nothing it could send
      subscribe([userPattern('raw'), userPattern('predictions')]),
    ],
  },
  automation: {
    description:
      'automation: reads live keys, subscribes to sensor updates, takes commands from its group on actuators:commands (never from pub/sub), publishes device:update* and announces applied commands on control:command',
    grants: [
      { commands: STRING_READ, read: [SENSOR_KEYS] },
      // persisted device states and modes: the hash automation:state
      { commands: [...STRING_WRITE, ...STRING_READ, ...HASH], keys: [DEVICE_KEYS, AUTOMATION_KEYS] },
      ...groupWork(ACTUATORS_COMMANDS),
      // command ages are measured on the server's clock
      { commands: ['time'] },
      subscribe(SENSOR_UPDATE),
      // control:command is an announcement of what was applied, not an input: only automation sends it
      publish(DEVICE_UPDATE, AUTOMATION_EVENTS, [CONTROL_COMMAND]),
    ],
  },
  alerts: {
    description: 'alerts: subscribes to sensor and device updates, reads live keys, publishes alerts:update*',
    grants: [
      { commands: STRING_READ, read: [SENSOR_KEYS, DEVICE_KEYS] },
      { commands: [...STRING_WRITE, ...STRING_READ, ...HASH], keys: [glob(ALERTS_PREFIX)] },
      subscribe(SENSOR_UPDATE, DEVICE_UPDATE, AUTOMATION_EVENTS),
      publish(ALERTS),
      // acknowledgements sent through the API
      { commands: ['xrange'], read: [ALERTS_ACKS] },
    ],
  },
  recorder: {
    description: 'recorder: subscribes to every update channel and control:command; no keys',
    grants: [subscribe(SENSOR_UPDATE, DEVICE_UPDATE, ANALYTICS, ALERTS, AUTOMATION_EVENTS, [CONTROL_COMMAND])],
  },
  analytics: {
    description: 'analytics: subscribes to sensor updates, keeps analytics:* keys, publishes analytics:update*',
    grants: [
      { commands: STRING_READ, read: [SENSOR_KEYS] },
      { commands: [...STRING_WRITE, ...STRING_READ, ...HASH], keys: [glob(ANALYTICS_PREFIX)] },
      subscribe(SENSOR_UPDATE),
      publish(ANALYTICS),
    ],
  },
  exporter: {
    description: 'exporter: subscribes to sensor and device updates, reads live keys; publishes nothing on Redis',
    grants: [{ commands: STRING_READ, read: [SENSOR_KEYS, DEVICE_KEYS] }, subscribe(SENSOR_UPDATE, DEVICE_UPDATE)],
  },
  gateway: {
    description:
      'gateway: publishes user:*:raw|features, subscribes to user:*:predictions|commands|alerts, keeps user:*:backlog streams',
    grants: [
      publish([userPattern('raw'), userPattern('features')]),
      subscribe([userPattern('predictions'), userPattern('commands'), userPattern('alerts')]),
      { commands: ['xadd', 'xrange', 'xrevrange', 'xlen', 'xtrim', 'pexpire'], keys: [userPattern(BACKLOG)] },
      // the idempotent append of every gateway (backlog-append.lua): the backlog and its record of what it holds
      {
        commands: [...SCRIPT, 'zadd', 'zscore', 'zremrangebyscore', 'pexpire'],
        keys: [userPattern(BACKLOG), userBacklogSeenPattern()],
      },
      identityWrites(),
    ],
  },
  monitor: {
    description: 'monitor: read-only view of streams, groups, live keys, heartbeats and updates',
    grants: [
      { commands: STRING_READ, read: [SENSOR_KEYS, DEVICE_KEYS] },
      { commands: [...STREAM_READ, 'xread'], read: [CAN_RAW, CAN_RAW_DEAD, ACTUATORS_COMMANDS] },
      subscribe(SENSOR_UPDATE, DEVICE_UPDATE, ANALYTICS, ALERTS, AUTOMATION_EVENTS),
    ],
  },
  cli: {
    description: 'cli: operator tools (canopy admin): sends admin messages and waits for replies, reads heartbeats',
    grants: [
      publish([glob(ADMIN_PREFIX)]),
      { commands: ['rpush', 'expire', 'llen'], keys: [glob(ADMIN_QUEUE_PREFIX)] },
      { commands: ['blpop', 'lpop', 'del'], keys: [glob(ADMIN_REPLY_PREFIX)] },
    ],
  },
};

export const SERVICE_NAMES = Object.keys(SERVICE_ACLS);

/** The ACL user of one Canopy service (its grants plus the fabric's). */
export function serviceUser(service: string): AclUserSpec {
  const s = SERVICE_ACLS[service];
  if (!s) throw new ConfigError(`unknown service "${service}" (known: ${SERVICE_NAMES.join(', ')})`);
  return { name: `${SERVICE_PREFIX}${service}`, description: s.description, grants: [...s.grants, ...fabricGrants()] };
}

/** An operator with full access (`canopy-root`), for `canopy doctor`, backups and applying ACLs. */
export function rootUser(): AclUserSpec {
  return {
    name: `${SERVICE_PREFIX}root`,
    description: 'root: full access, for operators only',
    grants: [],
    superuser: true,
  };
}

/** What the generated users depend on in the installation's settings. */
export interface CanopyUsersOptions {
  /**
   * @defaultValue `[]` — users whose channels the recorder records (`CANOPY_RECORD_USERS`); `['*']`
   * for every user. The recorder may subscribe to nothing of theirs unless named here.
   */
  recordUsers: readonly string[];
  /** @defaultValue all five kinds — which of their channels (`CANOPY_RECORD_USER_KINDS`). */
  recordUserKinds: readonly string[];
}

/** The recorder's grant for recording users' channels: exact channels, or the `user:*:<kind>` patterns for `*`. */
export function recorderUserGrant(
  users: readonly string[],
  kinds: readonly string[],
): AclGrant & { channels: string[] } {
  const channels = users.includes('*')
    ? kinds.map((k) => userPattern(k as UserChannelKind))
    : users.flatMap((u) => kinds.map((k) => `${USER_PREFIX}${u}:${k}`));
  return { commands: SUBSCRIBE, channels };
}

/** Every service user, in {@link SERVICE_NAMES} order, then root. */
export function canopyUsers(opts: Partial<CanopyUsersOptions> = {}): AclUserSpec[] {
  const o: CanopyUsersOptions = {
    recordUsers: [],
    recordUserKinds: [...USER_CHANNEL_KINDS],
    ...opts,
  };
  return [
    ...SERVICE_NAMES.map((name) => {
      const u = serviceUser(name);
      if (name === 'recorder' && o.recordUsers.length > 0 && o.recordUserKinds.length > 0) {
        const g = recorderUserGrant(o.recordUsers, o.recordUserKinds);
        const description = `${u.description}; records users' channels ${g.channels.join(', ')}`;
        return { ...u, description, grants: [...u.grants, g] };
      }
      return u;
    }),
    rootUser(),
  ];
}
