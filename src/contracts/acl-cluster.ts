import type { AclGrant, AclUserSpec } from '../bus/acl.js';
import { clusterDeadLetterStream } from '../bus/cluster/names.js';
import { isShardedUserKind } from './cluster.js';
import { USER_PREFIX } from './user-channels.js';

/**
 * What every user needs on a Redis Cluster besides its own rules: node-redis
 * discovers the slots with CLUSTER SLOTS, and follows a slot being migrated
 * with ASKING.
 */
export const CLUSTER_CLIENT_COMMANDS = ['cluster|slots', 'cluster|shards', 'asking'] as const;

/** `user:<id or *>:raw|features`: channels that are sharded on a cluster (src/contracts/cluster.ts). */
function isShardedChannelPattern(channel: string): boolean {
  if (!channel.startsWith(USER_PREFIX)) return false;
  const parts = channel.split(':');
  return parts.length === 3 && isShardedUserKind(parts[2] as string);
}

/**
 * A key pattern's name on a cluster: `<stream>:dead` → `{<stream>}:dead`,
 * `user:*:backlog:seen` → `{user:*:backlog}:seen` (a companion key in the slot of its base).
 */
function clusterKeyPattern(pattern: string): string | undefined {
  if (pattern.includes('{')) return undefined;
  if (pattern.endsWith(':dead')) return clusterDeadLetterStream(pattern.slice(0, -5));
  if (pattern.endsWith(':backlog:seen')) return `{${pattern.slice(0, -5)}}:seen`;
  return undefined;
}

function withClusterKeys(list: readonly string[] | undefined): string[] | undefined {
  if (!list) return undefined;
  const extra = list.map(clusterKeyPattern).filter((k): k is string => k !== undefined);
  return extra.length > 0 ? [...list, ...extra] : [...list];
}

/**
 * One grant's cluster form: the hash-tagged names beside the plain ones
 * (`can:raw:dead` and `{can:raw}:dead`), and for sharded channels the
 * sharded commands beside the classic ones (SSUBSCRIBE/SUNSUBSCRIBE with
 * SUBSCRIBE, SPUBLISH with PUBLISH).
 */
function clusterGrant(g: AclGrant): AclGrant[] {
  const keys = withClusterKeys(g.keys);
  const read = withClusterKeys(g.read);
  const write = withClusterKeys(g.write);
  const out: AclGrant[] = [
    {
      ...g,
      ...(keys ? { keys } : {}),
      ...(read ? { read } : {}),
      ...(write ? { write } : {}),
    },
  ];
  const sharded = (g.channels ?? []).filter(isShardedChannelPattern);
  if (sharded.length > 0) {
    const cmds: string[] = [];
    if (g.commands.includes('subscribe')) cmds.push('ssubscribe', 'sunsubscribe');
    if (g.commands.includes('publish')) cmds.push('spublish');
    if (cmds.length > 0) out.push({ commands: cmds, channels: sharded });
  }
  return out;
}

/**
 * The same user for a Redis Cluster: its rules plus the cluster's (see
 * {@link CLUSTER_CLIENT_COMMANDS}, {@link clusterGrant}). The result is
 * valid on a single Redis 7 server too; load the same ACL file on every
 * node of the cluster (ACLs are not replicated between nodes).
 */
export function clusterAclUser(spec: AclUserSpec): AclUserSpec {
  if (spec.superuser) return spec;
  return {
    ...spec,
    grants: [...spec.grants.flatMap(clusterGrant), { commands: [...CLUSTER_CLIENT_COMMANDS] }],
  };
}
