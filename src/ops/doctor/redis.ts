import { Connection } from '../../bus/connection.js';
import { redactUrl } from '../../bus/options.js';
import { listInstances } from '../../bus/presence.js';
import { fail, ok, warn, why, type CheckResult } from './types.js';
import { redisConnectionFromEnv } from '../../config/redis.js';

/** What the Redis checks need. */
export interface RedisCheckOptions {
  url: string;
  /** Services whose heartbeat must be present (`heartbeat:*` with that `service`). */
  expectServices: string[];
  /** @defaultValue 3000 */
  timeoutMs: number;
}

async function configGet(conn: Connection, key: string): Promise<string | undefined> {
  try {
    const r = await conn.run(`CONFIG GET ${key}`, (c) => c.configGet(key));
    return r[key];
  } catch {
    return undefined; // CONFIG is not allowed to this ACL user
  }
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/**
 * Redis reachable, version, persistence (AOF + RDB, noeviction), the ACL user
 * and each expected service's heartbeat. Later checks are reported as failed
 * when Redis cannot be reached.
 */
export async function redisChecks(o: RedisCheckOptions): Promise<CheckResult[]> {
  const where = redactUrl(o.url);
  let conn: Connection;
  try {
    conn = await Connection.connect({
      ...redisConnectionFromEnv(),
      url: o.url,
      connectTimeoutMs: o.timeoutMs,
      commandTimeoutMs: o.timeoutMs,
      healthCheckIntervalMs: 0,
      reconnectMaxAttempts: 0,
      clientName: 'canopy-doctor',
    });
  } catch (err) {
    return [
      fail(
        'redis.reachable',
        'Redis reachable',
        `${where}: ${why(err)}`,
        'start Redis (sudo systemctl start redis-server, or `canopy up`, which runs its own) and check REDIS_URL',
      ),
      ...(o.expectServices.length > 0
        ? [fail('heartbeats', 'Service heartbeats', 'not checked: Redis is unreachable', 'fix Redis first')]
        : []),
    ];
  }
  const out: CheckResult[] = [];
  try {
    out.push(ok('redis.reachable', 'Redis reachable', where));
    out.push(ok('redis.version', 'Redis version', `${conn.serverVersion} (6.2 or newer is needed)`));

    const info = await conn.run('INFO persistence', (c) => c.info('persistence'));
    const aof = (await configGet(conn, 'appendonly')) ?? (infoField(info, 'aof_enabled') === '1' ? 'yes' : 'no');
    const save = await configGet(conn, 'save');
    const problems: string[] = [];
    if (aof !== 'yes') problems.push('AOF is off');
    if (save !== undefined && save.trim() === '') problems.push('RDB snapshots are off');
    if (infoField(info, 'rdb_last_bgsave_status') === 'err') problems.push('the last RDB save failed');
    if (infoField(info, 'aof_last_write_status') === 'err') problems.push('the last AOF write failed');
    const policy = await configGet(conn, 'maxmemory-policy');
    if (problems.length > 0)
      out.push(
        fail(
          'redis.persistence',
          'Redis persistence',
          problems.join('; '),
          'use deploy/redis/redis.conf (appendonly yes, save 3600 1 300 100 60 10000), or: redis-cli CONFIG SET appendonly yes; CONFIG SET save "3600 1 300 100 60 10000"; CONFIG REWRITE',
        ),
      );
    else
      out.push(
        ok('redis.persistence', 'Redis persistence', `AOF on${save === undefined ? '' : `, RDB save "${save}"`}`),
      );
    if (policy !== undefined && policy !== 'noeviction')
      out.push(
        warn(
          'redis.maxmemory',
          'Redis memory policy',
          `maxmemory-policy ${policy}: stream entries and live keys may be evicted silently`,
          'redis-cli CONFIG SET maxmemory-policy noeviction; CONFIG REWRITE (deploy/redis/redis.conf sets it)',
        ),
      );

    let user: string;
    try {
      user = String(await conn.run('ACL WHOAMI', (c) => c.sendCommand(['ACL', 'WHOAMI'])));
    } catch {
      // a service user without ACL WHOAMI: it authenticated, so it works
      user = decodeURIComponent(new URL(o.url).username) || 'default';
    }
    let nopass = false;
    try {
      const rules = String(await conn.run('ACL LIST', (c) => c.sendCommand(['ACL', 'LIST'])));
      nopass = rules.split(',').some((r) => r.startsWith(`user ${user} `) && / nopass( |$)/.test(r));
    } catch {
      // ACL LIST is not allowed to this user: it is a restricted service user
    }
    if (user === 'default' && nopass)
      out.push(
        warn(
          'redis.acl',
          'Redis ACL user',
          'connected as the default user, which has no password',
          'generate per-service users with `canopy acl`, load them (aclfile) and put each service credentials in its REDIS_URL',
        ),
      );
    else out.push(ok('redis.acl', 'Redis ACL user', `authenticated as ${user}`));

    {
      const live = await listInstances(conn);
      const services = new Map<string, number>();
      for (const i of live) {
        const s = i.info?.service ?? '?';
        services.set(s, (services.get(s) ?? 0) + 1);
      }
      const missing = o.expectServices.filter((s) => !services.has(s));
      const seen = [...services].map(([s, n]) => (n > 1 ? `${s}×${n}` : s)).join(', ') || 'none';
      if (missing.length > 0)
        out.push(
          fail(
            'heartbeats',
            'Service heartbeats',
            `no heartbeat from ${missing.join(', ')} (live: ${seen})`,
            `start them: sudo systemctl start ${missing.map((m) => `canopy-${m}`).join(' ')} (or canopy up); logs: journalctl -u canopy-${missing[0]} -n 50`,
          ),
        );
      else out.push(ok('heartbeats', 'Service heartbeats', `live: ${seen}`));
    }
  } catch (err) {
    out.push(fail('redis.commands', 'Redis commands', why(err), 'check the ACL user permissions and the Redis log'));
  } finally {
    await conn.close().catch(() => undefined);
  }
  return out;
}
