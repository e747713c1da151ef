import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/bus/errors.js';
import { resolveConnectionOptions } from '../../src/bus/options.js';
import { aclPasswordEnvName, aclPasswordsFromEnv, redisConnectionFromEnv } from '../../src/config/redis.js';

describe('REDIS_URL and REDIS_DB (src/config/redis.ts)', () => {
  it('takes REDIS_URL and lets REDIS_DB override the URL database; explicit options win', () => {
    const env = { REDIS_URL: 'redis://h:1/3', REDIS_DB: '5' };
    expect(redisConnectionFromEnv(env)).toEqual({ url: 'redis://h:1/3', db: 5 });
    expect(resolveConnectionOptions(redisConnectionFromEnv(env))).toMatchObject({ url: 'redis://h:1/3', db: 5 });
    expect(resolveConnectionOptions(redisConnectionFromEnv({ REDIS_URL: 'redis://h:1/3' })).db).toBe(3);
    expect(resolveConnectionOptions({ ...redisConnectionFromEnv(env), db: 7 }).db).toBe(7);
    expect(resolveConnectionOptions({ ...redisConnectionFromEnv(env), url: 'redis://other:2' })).toMatchObject({
      url: 'redis://other:2',
      db: 5,
    });
    expect(redisConnectionFromEnv({})).toEqual({});
    expect(redisConnectionFromEnv({ REDIS_URL: '', REDIS_DB: '' })).toEqual({});
    expect(resolveConnectionOptions(redisConnectionFromEnv({})).url).toBe('redis://127.0.0.1:6379');
  });

  it('refuses a REDIS_DB that is not a non-negative integer with ConfigError', () => {
    for (const bad of ['x', '-1', '1.5']) {
      expect(() => redisConnectionFromEnv({ REDIS_DB: bad })).toThrow(ConfigError);
    }
  });

  it('reads ACL passwords from CANOPY_ACL_PASSWORD_<USER>, by user name', () => {
    expect(aclPasswordEnvName('canopy-scanner')).toBe('CANOPY_ACL_PASSWORD_CANOPY_SCANNER');
    expect(
      aclPasswordsFromEnv(['canopy-api', 'canopy-worker', 'ml.alice'], {
        CANOPY_ACL_PASSWORD_CANOPY_API: 'a-secret',
        CANOPY_ACL_PASSWORD_ML_ALICE: 'b-secret',
        CANOPY_ACL_PASSWORD_CANOPY_WORKER: '',
      }),
    ).toEqual({ 'canopy-api': 'a-secret', 'ml.alice': 'b-secret' });
  });

  it('reads Sentinel and Cluster nodes as host:port lists, IPv6 in brackets, and refuses bad items', () => {
    expect(
      redisConnectionFromEnv({
        REDIS_SENTINELS: '10.0.0.1:26379, [::1]:26380',
        REDIS_SENTINEL_MASTER: 'canopy',
        REDIS_SENTINEL_PASSWORD: 's',
      }),
    ).toEqual({
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      sentinelMaster: 'canopy',
      sentinelPassword: 's',
    });
    expect(redisConnectionFromEnv({ REDIS_CLUSTER_NODES: 'a:7000,b:7001' }).clusterNodes).toEqual([
      { host: 'a', port: 7000 },
      { host: 'b', port: 7001 },
    ]);
    for (const bad of ['host', 'host:0', 'host:99999', ',', 'a:1:2']) {
      expect(() => redisConnectionFromEnv({ REDIS_SENTINELS: bad })).toThrow(ConfigError);
    }
    expect(() => redisConnectionFromEnv({ REDIS_SENTINELS: 'a:1', REDIS_CLUSTER_NODES: 'b:2' })).toThrow(ConfigError);
  });
});
