/**
 * A field of a Redis reply that is a map: RESP2 gives it as a flat
 * `[name, value, name, value, …]` array, RESP3 (and node-redis's typed
 * replies) as an object or a Map. `undefined` when the field is absent.
 */
export function replyField(reply: unknown, name: string): unknown {
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) if (reply[i] === name) return reply[i + 1];
    return undefined;
  }
  if (reply instanceof Map) return reply.get(name);
  if (reply && typeof reply === 'object') return (reply as Record<string, unknown>)[name];
  return undefined;
}
