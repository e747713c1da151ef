import { ConfigError } from '../bus/errors.js';
import type { ConnectionOptions } from '../bus/options.js';
import { parseNodeList } from '../bus/options.js';

/**
 * How a Canopy process reaches Redis, read from its environment. The bus
 * itself reads no environment variable: every process passes what this
 * returns (explicit options spread after it win).
 *
 * - `REDIS_URL`: `redis://[user:password@]host[:port][/db]` or `rediss://…`
 *   (TLS); unset or empty leaves the bus's default, `redis://127.0.0.1:6379`.
 * - `REDIS_DB`: database number, overrides the URL's `/db`.
 * - `REDIS_SENTINELS`: `host:port,host:port,…` — discover the primary
 *   through these Sentinels (with `REDIS_SENTINEL_MASTER`, default
 *   `mymaster`, and `REDIS_SENTINEL_PASSWORD` if the sentinels have one).
 * - `REDIS_CLUSTER_NODES`: `host:port,…` — seed nodes of a Redis Cluster.
 *
 * Throws {@link ConfigError} when `REDIS_DB` is not a non-negative integer.
 */
export function redisConnectionFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<ConnectionOptions> {
  const out: Partial<ConnectionOptions> = {};
  if (env.REDIS_URL) out.url = env.REDIS_URL;
  const db = env.REDIS_DB;
  if (db !== undefined && db !== '') {
    const n = Number(db);
    if (!Number.isInteger(n) || n < 0) {
      throw new ConfigError(`REDIS_DB must be a non-negative integer, got "${db}"`);
    }
    out.db = n;
  }
  if (env.REDIS_SENTINELS) out.sentinels = parseNodeList(env.REDIS_SENTINELS, 'REDIS_SENTINELS');
  if (env.REDIS_SENTINEL_MASTER) out.sentinelMaster = env.REDIS_SENTINEL_MASTER;
  if (env.REDIS_SENTINEL_PASSWORD) out.sentinelPassword = env.REDIS_SENTINEL_PASSWORD;
  if (env.REDIS_CLUSTER_NODES) out.clusterNodes = parseNodeList(env.REDIS_CLUSTER_NODES, 'REDIS_CLUSTER_NODES');
  if (out.sentinels && out.clusterNodes) {
    throw new ConfigError('set REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both');
  }
  return out;
}

/** `canopy-scanner` → `CANOPY_ACL_PASSWORD_CANOPY_SCANNER`. */
export function aclPasswordEnvName(user: string): string {
  return `CANOPY_ACL_PASSWORD_${user.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * The ACL passwords set in the environment (`CANOPY_ACL_PASSWORD_<USER>`)
 * for `users`, by user name: the bus's `resolveCredentials` takes them
 * before the credentials file.
 */
export function aclPasswordsFromEnv(
  users: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const u of users) {
    const p = env[aclPasswordEnvName(u)];
    if (p) out[u] = p;
  }
  return out;
}
