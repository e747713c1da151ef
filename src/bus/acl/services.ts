import { ConfigError } from '../errors.js';
import type { AclGrant, AclUserSpec } from '../acl.js';

/**
 * The ACL users of Canopy's own services: each may run only the commands
 * and touch only the keys and channels of SPEC §2 that it uses. Every
 * service also gets the fabric grants (heartbeat, admin mailbox, registry
 * reads). User names are `canopy-<service>`; a service finds its password
 * in its own `REDIS_URL` (`redis://canopy-worker:<password>@host:6379`).
 */

export const SERVICE_PREFIX = 'canopy-';

/** Channels of the topic messages (broad, level and specific; literal and pattern forms). */
const SENSOR_UPDATE = ['sensor:update', 'sensor:update:*', 'sensor:update*'];
const DEVICE_UPDATE = ['device:update', 'device:update:*', 'device:update*'];
const ANALYTICS_UPDATE = ['analytics:update', 'analytics:update:*', 'analytics:update*'];
const ALERTS_UPDATE = ['alerts:update', 'alerts:update:*', 'alerts:update*'];
/** Why the automation changed a device (failsafe, schedule, …). */
const AUTOMATION_EVENTS = ['automation:events'];
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

/** Scripts run by EVALSHA, and by EVAL when the server does not know them yet (src/bus/fabric-lua.ts). */
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
    { commands: [...STRING_WRITE, ...STRING_READ], keys: ['heartbeat:*'] },
    { commands: ['scan'] },
    { commands: STRING_READ, read: ['identity:*'] },
    subscribe(['admin:*']),
    { commands: ['lrange', 'lrem', 'lpop', 'llen', 'del', ...SCRIPT], keys: ['admin:queue:*'] },
    { commands: ['rpush', 'expire'], keys: ['admin:reply:*'] },
  ];
}

/**
 * Writes `identity:{scope}:{id}` records (the registry's identity-touch script: GET + SET),
 * replays them from the fallback files, and may be elected for the identity cleanup.
 */
function identityWrites(): AclGrant {
  return {
    commands: [...STRING_WRITE, ...STRING_READ, ...SCRIPT, 'scan'],
    keys: ['identity:*', 'lease:identity-cleanup'],
  };
}

/** A consumer group on `stream` with dead letters to `<stream>:dead` (src/bus/streams, dead-letter.lua). */
function groupWork(stream: string): AclGrant[] {
  return [
    { commands: GROUP_WORK, keys: [stream] },
    { commands: ['xadd'], write: [`${stream}:dead`] },
    { commands: SCRIPT, keys: [stream, `${stream}:dead`] },
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
      { commands: ['xadd'], write: ['can:raw'] },
      { commands: ['xlen', 'xrevrange', 'xinfo|stream'], read: ['can:raw'] },
      // the spool's exactly-once replay: spool-append.lua adds entries and advances spool:ack:<writer>
      { commands: ['get', 'set'], keys: ['spool:ack:*'] },
      { commands: SCRIPT, keys: ['can:raw', 'spool:ack:*'] },
    ],
  },
  worker: {
    description:
      'worker: consumer group can-worker on can:raw, dead letters, live keys sensor:*, publishes sensor:update*',
    grants: [
      ...groupWork('can:raw'),
      { commands: [...STRING_WRITE, ...STRING_READ], keys: ['sensor:*'] },
      identityWrites(),
      publish(SENSOR_UPDATE),
    ],
  },
  api: {
    description:
      'api: reads live keys, stream and group state, identities and analytics:latest; subscribes to updates and to user:*:raw|predictions (read only); control commands (operator token) to actuators:commands only; no other XADD, no PUBLISH, no writes',
    grants: [
      { commands: STRING_READ, read: ['sensor:*', 'device:*', 'analytics:*', 'alerts:*'] },
      { commands: STREAM_READ, read: ['can:raw', 'can:raw:dead', 'actuators:commands'] },
      // POST /api/devices/:name and PUT /api/setpoints/:name append the command durably
      { commands: ['xadd'], write: ['actuators:commands'] },
      subscribe(SENSOR_UPDATE, DEVICE_UPDATE, ANALYTICS_UPDATE, ALERTS_UPDATE, AUTOMATION_EVENTS),
      // the dashboard's live view of one user (viewer token): its raw data and predictions, nothing it could send
      subscribe(['user:*:raw', 'user:*:predictions']),
    ],
  },
  automation: {
    description:
      'automation: reads live keys, subscribes to sensor updates, takes commands from its group on actuators:commands (never from pub/sub), publishes device:update* and announces applied commands on control:command',
    grants: [
      { commands: STRING_READ, read: ['sensor:*'] },
      // persisted device states and modes: the hash automation:state
      { commands: [...STRING_WRITE, ...STRING_READ, ...HASH], keys: ['device:*', 'automation:*'] },
      ...groupWork('actuators:commands'),
      subscribe(SENSOR_UPDATE),
      // control:command is an announcement of what was applied, not an input: only automation sends it
      publish(DEVICE_UPDATE, AUTOMATION_EVENTS, ['control:command']),
    ],
  },
  alerts: {
    description: 'alerts: subscribes to sensor and device updates, reads live keys, publishes alerts:update*',
    grants: [
      { commands: STRING_READ, read: ['sensor:*', 'device:*'] },
      { commands: [...STRING_WRITE, ...STRING_READ, ...HASH], keys: ['alerts:*'] },
      subscribe(SENSOR_UPDATE, DEVICE_UPDATE, AUTOMATION_EVENTS),
      publish(ALERTS_UPDATE),
    ],
  },
  recorder: {
    description: 'recorder: subscribes to every update channel and control:command; no keys',
    grants: [
      subscribe(SENSOR_UPDATE, DEVICE_UPDATE, ANALYTICS_UPDATE, ALERTS_UPDATE, AUTOMATION_EVENTS, ['control:command']),
    ],
  },
  analytics: {
    description: 'analytics: subscribes to sensor updates, keeps analytics:* keys, publishes analytics:update*',
    grants: [
      { commands: STRING_READ, read: ['sensor:*'] },
      { commands: [...STRING_WRITE, ...STRING_READ, ...HASH], keys: ['analytics:*'] },
      subscribe(SENSOR_UPDATE),
      publish(ANALYTICS_UPDATE),
    ],
  },
  exporter: {
    description: 'exporter: subscribes to sensor and device updates, reads live keys; publishes nothing on Redis',
    grants: [{ commands: STRING_READ, read: ['sensor:*', 'device:*'] }, subscribe(SENSOR_UPDATE, DEVICE_UPDATE)],
  },
  gateway: {
    description:
      'gateway: publishes user:*:raw|features, subscribes to user:*:predictions|commands|alerts, keeps user:*:backlog streams',
    grants: [
      publish(['user:*:raw', 'user:*:features']),
      subscribe(['user:*:predictions', 'user:*:commands', 'user:*:alerts']),
      { commands: ['xadd', 'xrange', 'xrevrange', 'xlen', 'xtrim', 'pexpire'], keys: ['user:*:backlog'] },
      identityWrites(),
    ],
  },
  monitor: {
    description: 'monitor: read-only view of streams, groups, live keys, heartbeats and updates',
    grants: [
      { commands: STRING_READ, read: ['sensor:*', 'device:*'] },
      { commands: [...STREAM_READ, 'xread'], read: ['can:raw', 'can:raw:dead', 'actuators:commands'] },
      subscribe(SENSOR_UPDATE, DEVICE_UPDATE, ANALYTICS_UPDATE, ALERTS_UPDATE, AUTOMATION_EVENTS),
    ],
  },
  cli: {
    description: 'cli: operator tools (canopy admin): sends admin messages and waits for replies, reads heartbeats',
    grants: [
      publish(['admin:*']),
      { commands: ['rpush', 'expire', 'llen'], keys: ['admin:queue:*'] },
      { commands: ['blpop', 'lpop', 'del'], keys: ['admin:reply:*'] },
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
    ? kinds.map((k) => `user:*:${k}`)
    : users.flatMap((u) => kinds.map((k) => `user:${u}:${k}`));
  return { commands: SUBSCRIBE, channels };
}

/** Every service user, in {@link SERVICE_NAMES} order, then root. */
export function canopyUsers(opts: Partial<CanopyUsersOptions> = {}): AclUserSpec[] {
  const o: CanopyUsersOptions = {
    recordUsers: [],
    recordUserKinds: ['raw', 'features', 'predictions', 'commands', 'alerts'],
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
