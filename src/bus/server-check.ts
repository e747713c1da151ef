import { withDeadline } from './deadline.js';
import { TimeoutError, VersionError, toBusError } from './errors.js';
import type { ConnectionOptions } from './options.js';
import type { RedisClient } from './redis-client.js';

/** Connects `client` within `timeoutMs`; destroys it and throws a bus error when that fails. */
export async function openClient(client: RedisClient, where: string, timeoutMs: number): Promise<void> {
  try {
    await withDeadline(client.connect(), timeoutMs, () => {
      throw new TimeoutError(`connect to ${where} did not finish within ${timeoutMs} ms`);
    });
  } catch (err) {
    client.destroy();
    throw toBusError(err, `connect to ${where}`);
  }
}

/**
 * Checks the server version (a {@link VersionError} below the minimum) and
 * warns when the eviction policy could drop bus keys; returns the version.
 */
export async function checkServer(
  client: RedisClient,
  o: Pick<ConnectionOptions, 'minServerVersion' | 'logger'>,
): Promise<string> {
  let info: string;
  try {
    info = await client.info('server');
  } catch (err) {
    throw toBusError(err, 'INFO server');
  }
  const version = /redis_version:([\d.]+)/.exec(info)?.[1] ?? '0.0.0';
  if (compareVersions(version, o.minServerVersion) < 0) {
    throw new VersionError(`Redis ${version} is older than the minimum supported ${o.minServerVersion}`);
  }
  try {
    const cfg = await client.configGet('maxmemory-policy');
    const policy = cfg['maxmemory-policy'];
    if (policy && policy !== 'noeviction') {
      o.logger.warn({ policy }, 'maxmemory-policy is not noeviction: Redis may silently evict stream and state keys');
    }
  } catch {
    // CONFIG is often forbidden to least-privilege ACL users; nothing to check then.
  }
  return version;
}

/** Compares dotted versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}
