/**
 * Caps for Maps and Sets keyed by outside input (sensor, device, service or
 * instance names from Redis messages, CAN node numbers): a flood of new
 * names must not grow a process without bound. Callers count what a cap
 * refused or evicted and show it in their heartbeat counters.
 */

/**
 * Sets `key` unless that would make `map` hold more than `max` keys: an
 * existing key is always updated; a new key beyond the cap is refused.
 * Returns false when refused.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): boolean {
  if (map.size >= max && !map.has(key)) return false;
  map.set(key, value);
  return true;
}

/** Adds `key` unless `set` holds `max` keys already (false when refused). */
export function addBounded<K>(set: Set<K>, key: K, max: number): boolean {
  if (set.size >= max && !set.has(key)) return false;
  set.add(key);
  return true;
}

/** Removes the oldest entries (insertion order) until at most `max` are left; returns how many went. */
export function evictOldest<K>(coll: Map<K, unknown> | Set<K>, max: number): number {
  let n = 0;
  for (const k of coll.keys()) {
    if (coll.size <= max) break;
    coll.delete(k);
    n++;
  }
  return n;
}
