import path from 'node:path';
import { RedisProcess, type RedisProcessOptions } from '../../src/ops/redis-process.js';
import { register } from './cleanup.js';
import { tempDir } from './tmp.js';

export type TestRedis = RedisProcess;

/**
 * Starts a private redis-server on a free loopback port in a temporary
 * directory (AOF off unless asked for). It is killed when the test file ends.
 */
export async function startRedis(opts: Partial<RedisProcessOptions> = {}): Promise<TestRedis> {
  const dir = opts.dir ?? path.join(tempDir('canopy-redis-'), 'data');
  const rp = await RedisProcess.start({ aof: false, rdb: false, ...opts, dir });
  register({
    stop: () => rp.kill(),
    killSync: () => {
      if (rp.pid && rp.running) process.kill(rp.pid, 'SIGKILL');
    },
  });
  return rp;
}
