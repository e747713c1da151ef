import { ConfigError } from '../bus/errors.js';
import { rawRetention } from '../store/retention.js';
import { parseDatabaseUrl, type RetentionTable } from '../store/options.js';
import { text } from './read.js';

/** The store's retention as the worker applies it and `canopy doctor` reports it (docs/configuration.md). */
export interface RetentionEnv {
  /**
   * `CANOPY_RETENTION_RAW_DAYS`: days raw frames and readings are kept (0 keeps everything);
   * unset: 90 on SQLite, everything on PostgreSQL. Rollups are always kept.
   */
  rawDays: number | undefined;
}

export function retentionEnv(env: NodeJS.ProcessEnv = process.env): RetentionEnv {
  const v = text(env, 'CANOPY_RETENTION_RAW_DAYS');
  if (v === undefined) return { rawDays: undefined };
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !Number.isFinite(n))
    throw new ConfigError(`CANOPY_RETENTION_RAW_DAYS must be a number of days ≥ 0 (0 keeps everything), got "${v}"`);
  return { rawDays: n };
}

/** The retention rules for the store at `databaseUrl` (SQLite default: raw rows 90 days). */
export function storeRetention(
  databaseUrl: string,
  env: NodeJS.ProcessEnv = process.env,
): Partial<Record<RetentionTable, number>> {
  return rawRetention(parseDatabaseUrl(databaseUrl).kind, retentionEnv(env).rawDays);
}
