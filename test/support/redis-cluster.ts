import { RedisClusterProcess, type RedisClusterProcessOptions } from '../../src/ops/redis-cluster.js';
import { register } from './cleanup.js';
import { tempDir } from './tmp.js';

export type TestRedisCluster = RedisClusterProcess;

/**
 * Starts a six-node Redis Cluster (3 masters + 3 replicas) on free loopback
 * ports in a temporary directory and waits for `cluster_state:ok` on every
 * node. The nodes are killed when the test file ends.
 */
export async function startRedisCluster(opts: Partial<RedisClusterProcessOptions> = {}): Promise<TestRedisCluster> {
  const dir = opts.dir ?? tempDir('canopy-cluster-');
  const cluster = await RedisClusterProcess.start({ ...opts, dir });
  register({ stop: () => cluster.stop(), killSync: () => cluster.killSync() });
  return cluster;
}
