/**
 * The Redis `canopy up` manages when no `REDIS_URL` is given: started on its
 * data directory (AOF + RDB) under a parent-death signal, watched for a crash
 * and restarted on the same data.
 */
import net from 'node:net';
import path from 'node:path';
import { freePort } from './ports.js';
import { RedisProcess } from './redis-process.js';

/** What the managed Redis needs of `canopy up`'s options. */
export interface ManagedRedisOptions {
  dataDir: string;
  /** The port asked for; another free one when taken, unless `portFixed`. */
  port: number;
  portFixed: boolean;
  say: (line: string) => void;
}

/** Starts the managed Redis on `<dataDir>/redis` and says where. */
export async function startManagedRedis(o: ManagedRedisOptions): Promise<RedisProcess> {
  let port = o.port;
  if (!o.portFixed && (await portTaken(port))) {
    const other = await freePort();
    o.say(`port ${port} is taken (another Redis?); the managed Redis uses ${other}`);
    port = other;
  }
  const redis = await RedisProcess.start({
    dir: path.join(o.dataDir, 'redis'),
    port,
    aof: true,
    rdb: true,
    detached: true,
    // stopped (and saved) even when canopy up dies by kill -9 or the OOM killer
    exitWithParent: true,
  });
  o.say(`Redis started on ${redis.url} (pid ${redis.pid}, AOF + RDB, data in ${redis.dir})`);
  return redis;
}

/**
 * Checks every `everyMs` that `redis` still runs and restarts it on the same
 * data when it crashed (saying so), unless `stopping()`. Returns the timer
 * (clear it to stop watching).
 */
export function watchManagedRedis(
  redis: RedisProcess,
  everyMs: number,
  stopping: () => boolean,
  say: (line: string) => void,
): NodeJS.Timeout {
  let restarting = false;
  const timer = setInterval(() => {
    if (restarting || redis.running || stopping()) return;
    restarting = true;
    say('the managed Redis exited unexpectedly; restarting it on the same data');
    redis
      .restart()
      .then(() => say(`Redis restarted on ${redis.url}`))
      .catch((err: unknown) => say(`Redis restart failed: ${(err as Error).message}`))
      .finally(() => (restarting = false));
  }, everyMs);
  timer.unref();
  return timer;
}

async function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
