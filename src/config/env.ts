import path from 'node:path';

/**
 * Process-wide settings read from the environment. Each service adds its
 * own options on top; this is only what every process shares.
 */
export interface BaseConfig {
  /** @defaultValue `./data` — `CANOPY_DATA_DIR`: spool files, SQLite, managed Redis. */
  dataDir: string;
  /** @defaultValue unset — `REDIS_URL`; unset means `canopy up` starts its own Redis. */
  redisUrl: string | undefined;
  /** @defaultValue true — `USE_REDIS=false` takes the fallback (spool) paths on purpose. */
  useRedis: boolean;
  /** @defaultValue `sqlite:$CANOPY_DATA_DIR/canopy.db` — `DATABASE_URL`. */
  databaseUrl: string;
  /** @defaultValue `info` — `LOG_LEVEL`. */
  logLevel: string;
}

export function loadBaseConfig(env: NodeJS.ProcessEnv = process.env): BaseConfig {
  const dataDir = path.resolve(env.CANOPY_DATA_DIR || './data');
  return {
    dataDir,
    redisUrl: env.REDIS_URL || undefined,
    useRedis: !/^(false|0|no|off)$/i.test(env.USE_REDIS ?? ''),
    databaseUrl: env.DATABASE_URL || `sqlite:${path.join(dataDir, 'canopy.db')}`,
    logLevel: env.LOG_LEVEL || 'info',
  };
}
