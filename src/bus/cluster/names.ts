import type { ConnectionOptions } from '../options.js';

/**
 * Names on a Redis Cluster. Keys that one Lua script or MULTI touches
 * together must share a hash slot; a hash tag (`{…}`) makes Redis hash only
 * the tagged part. `{can:raw}` hashes exactly like the key `can:raw` (a key
 * without braces hashes on its whole name), so the fixed stream names need
 * not change: only the keys that go with a stream get the stream's name as
 * their tag. On a single server or under Sentinel the plain names are used,
 * byte for byte (src/contracts/names.ts lists both).
 */

/** True when these connection options run the bus on a Redis Cluster. */
export function onCluster(o: Pick<ConnectionOptions, 'clusterNodes'>): boolean {
  return o.clusterNodes.length > 0;
}

/**
 * The hash tag that puts a name in the same slot as `key`: the key's own tag
 * when it has one (`{u1}:x` → `{u1}`), else the whole key in braces
 * (`can:raw` → `{can:raw}`).
 */
export function slotTag(key: string): string {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open, close + 1);
  }
  return `{${key}}`;
}

/** Dead-letter stream of `stream` on a cluster: `{can:raw}:dead` (same slot as `can:raw`). */
export function clusterDeadLetterStream(stream: string): string {
  return `${slotTag(stream)}:dead`;
}

/** A spooled writer's ack key on a cluster: `spool:ack:{can:raw}:<writer>` (same slot as the stream). */
export function clusterAckKey(prefix: string, stream: string, writer: string): string {
  return `${prefix}${slotTag(stream)}:${writer}`;
}
