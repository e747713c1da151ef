import type { Connection } from '../connection.js';
import type { BusLogger } from '../log.js';
import { silentLogger } from '../log.js';
import { HEARTBEAT_DEFAULTS, listInstances, type LiveInstance } from '../presence.js';
import { REGISTRY_DEFAULTS } from '../registry.js';
import { msLeft } from './files.js';
import type { FabricFiles } from './records.js';

const SEEN = new Set(['first_seen', 'last_seen', 'seen_count']);

/**
 * Replays the identity files to Redis in the order they were written and
 * removes them. Each file is claimed first (renamed), so two processes
 * replaying at once never apply one record twice. A file whose record
 * expired is dropped. On a Redis error the file is given back and the
 * replay stops (the next one resumes). Returns the number replayed.
 */
export async function replayIdentities(
  conn: Connection,
  files: FabricFiles,
  opts: { prefix?: string; logger?: BusLogger } = {},
): Promise<number> {
  const prefix = opts.prefix ?? REGISTRY_DEFAULTS.prefix;
  const log = opts.logger ?? silentLogger;
  const claimed = await files.claimIdentities();
  let replayed = 0;
  for (let i = 0; i < claimed.length; i++) {
    const c = claimed[i]!;
    const rec = c.value;
    if (!rec) {
      await c.done();
      continue;
    }
    const left = msLeft(rec.expires_at, files.store.options.now());
    const fields = Object.fromEntries(Object.entries(rec.fields).filter(([k]) => rec.op === 'write' || !SEEN.has(k)));
    try {
      if (left > 0)
        await conn.runScript(
          'identity-replay',
          [`${prefix}${c.scope}:${c.id}`],
          [
            rec.op,
            JSON.stringify(rec.op === 'write' ? rec.data : fields),
            String(Math.ceil(left)),
            String(rec.data.first_seen ?? rec.written_at),
            String(rec.data.last_seen ?? rec.written_at),
            String(Number(rec.data.seen_count) || 1),
          ],
        );
    } catch (err) {
      for (const rest of claimed.slice(i)) await rest.giveBack();
      log.warn({ err: (err as Error).message, left: claimed.length - i }, 'identity replay interrupted');
      throw err;
    }
    await c.done();
    if (left > 0) replayed++;
  }
  if (replayed > 0) log.info({ replayed }, 'identities written during the Redis outage replayed');
  return replayed;
}

/** Where {@link listLiveInstances} found its instances. */
export type PresenceSource = 'redis' | 'redis+files' | 'files';

/**
 * The live instances from Redis and from the heartbeat files together
 * (Redis wins for an instance in both). Redis is skipped when `conn` is
 * missing or not ready, or when it fails (`redisError` says why).
 */
export async function listLiveInstances(
  conn: Connection | undefined,
  files: FabricFiles | undefined,
  prefix = HEARTBEAT_DEFAULTS.prefix,
): Promise<{ live: LiveInstance[]; source: PresenceSource; redisError?: Error }> {
  const byName = new Map<string, LiveInstance>();
  let redisError: Error | undefined;
  let fromRedis = false;
  for (const l of files ? await files.listHeartbeats() : []) byName.set(l.instance, l);
  if (conn?.isReady) {
    try {
      for (const l of await listInstances(conn, prefix)) byName.set(l.instance, { ...l, source: 'redis' });
      fromRedis = true;
    } catch (err) {
      redisError = err as Error;
    }
  }
  const live = [...byName.values()].sort((a, b) => a.instance.localeCompare(b.instance));
  const source: PresenceSource = !fromRedis ? 'files' : files ? 'redis+files' : 'redis';
  return { live, source, ...(redisError ? { redisError } : {}) };
}
