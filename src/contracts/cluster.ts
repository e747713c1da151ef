import * as N from './names.js';
import {
  FORWARD_KINDS,
  USER_PREFIX,
  isForwardKind,
  userBacklogSeenKey,
  userPattern,
  type UserChannelKind,
} from './user-channels.js';

/**
 * Canopy on a Redis Cluster (`REDIS_CLUSTER_NODES`): which names change,
 * which channels are sharded and which pattern subscriptions stay
 * cluster-wide. The plain names of names.ts are used byte for byte on a
 * single server and under Sentinel; only the names below differ on a
 * cluster. docs/contracts.md renders these tables.
 */

/** A name that is hash-tagged on a cluster, with why. */
export interface ClusterNameEntry {
  plain: string;
  cluster: string;
  why: string;
}

/** Names that get a hash tag on a cluster so one Lua script touches a single slot. */
export function clusterNameTable(): ClusterNameEntry[] {
  return [
    {
      plain: N.CAN_RAW_DEAD,
      cluster: N.CAN_RAW_DEAD_CLUSTER,
      why: 'dead-letter.lua copies an entry from can:raw and acks it in one step: both keys in the slot of can:raw',
    },
    {
      plain: N.spoolAckKey('<writer>'),
      cluster: N.spoolAckKey('<writer>', N.CAN_RAW, true),
      why: 'spool-append.lua adds to can:raw and advances the ack in one step: both keys in the slot of can:raw',
    },
    {
      plain: userBacklogSeenKey('ID').replace('ID', '<id>'),
      cluster: userBacklogSeenKey('ID', true).replace('ID', '<id>'),
      why: 'backlog-append.lua appends to user:<id>:backlog and records the message as seen in one step: both keys in the slot of the backlog',
    },
    {
      plain: `${N.deadLetterStream('<stream>')}`,
      cluster: `${N.deadLetterStream('<stream>', true)}`,
      why: 'the same for every consumer-group stream of the bus',
    },
  ];
}

/**
 * Per-user channel kinds published with SPUBLISH and received with
 * SSUBSCRIBE on a cluster: the high-volume relay → consumer data. A sharded
 * message travels to the nodes of one shard only, not to every node.
 */
export const SHARDED_USER_KINDS: readonly UserChannelKind[] = FORWARD_KINDS;

/** Whether `user:{id}:<kind>` is sharded on a cluster. */
export function isShardedUserKind(kind: string): boolean {
  return isForwardKind(kind);
}

/** Whether a channel name is a sharded per-user channel (`user:jamie:raw`). */
export function isShardedUserChannel(channel: string): boolean {
  if (!channel.startsWith(USER_PREFIX)) return false;
  const kind = channel.slice(channel.lastIndexOf(':') + 1);
  return isShardedUserKind(kind) && channel.split(':').length === 3;
}

/** A pattern subscription that cannot be sharded (Redis has no sharded PSUBSCRIBE), with its cost. */
export interface ClusterPatternEntry {
  pattern: string;
  subscriber: string;
  cost: string;
}

/** Every PSUBSCRIBE of Canopy and what it costs on a cluster. */
export function clusterPatternTable(): ClusterPatternEntry[] {
  return [
    ...(['predictions', 'commands', 'alerts'] as const).map((kind) => ({
      pattern: userPattern(kind),
      subscriber: 'gateway',
      cost: 'classic PUBLISH: every message is broadcast over the cluster bus to every node (low volume: answers to relays)',
    })),
    ...SHARDED_USER_KINDS.map((kind) => ({
      pattern: userPattern(kind),
      subscriber: 'recorder (all users)',
      cost: 'receives nothing on a cluster (sharded messages reach SSUBSCRIBE only): give the recorder its users',
    })),
  ];
}
