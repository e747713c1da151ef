import { ConfigError } from '../errors.js';
import type { ConnectionOptions } from '../options.js';
import type { ReconnectStrategy, RedisClient } from '../redis-client.js';

/**
 * A client for Redis Cluster that serves the bus like a single-server
 * client. Placeholder until the cluster adapter is merged: this build
 * refuses `clusterNodes` with a clear {@link ConfigError}.
 */
export function createClusterClient(o: ConnectionOptions, reconnectStrategy: ReconnectStrategy): RedisClient {
  void o;
  void reconnectStrategy;
  throw new ConfigError('Redis Cluster support is not built in this build');
}
