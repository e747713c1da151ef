import fs from 'node:fs';
import path from 'node:path';
import { redisUrlFor, renderAclFile, resolveCredentials, type AclUserSpec } from '../../src/bus/acl.js';
import { startRedis, type TestRedis } from './redis.js';
import { tempDir } from './tmp.js';

/**
 * A redis-server that knows only the given ACL users (their generated
 * passwords in a 0600 ACL file), and the URL to log in as each of them.
 */
export async function startRedisWithUsers(
  users: AclUserSpec[],
): Promise<{ redis: TestRedis; url: (user: string) => string }> {
  const dir = tempDir();
  const { secrets } = resolveCredentials(
    users.map((u) => u.name),
    path.join(dir, 'creds'),
    {},
  );
  const aclFile = path.join(dir, 'users.acl');
  fs.writeFileSync(aclFile, renderAclFile(users, secrets), { mode: 0o600 });
  const redis = await startRedis({ extraConfig: [`aclfile ${aclFile}`] });
  return { redis, url: (u) => redisUrlFor(redis.url, u, secrets.get(u)!.password) };
}
