/**
 * `canopy migrate`: SQLite `can_messages` → PostgreSQL/TimescaleDB, then
 * verification. See copy.ts (resumable chunks), convert.ts (what each field
 * becomes) and verify.ts (counts and sampled rows).
 */
import { StoreError } from '../errors.js';
import {
  MIGRATE_DEFAULTS,
  connect,
  copySqliteToPostgres,
  openSource,
  type CopyResult,
  type MigrateOptions,
} from './copy.js';
import { verifyCopy, type VerifyResult } from './verify.js';

export type { CopyResult, MigrateOptions, MigrateProgress } from './copy.js';
export type { Mismatch, VerifyResult } from './verify.js';
export { copySqliteToPostgres } from './copy.js';
export { verifyCopy } from './verify.js';

export interface MigrateRunOptions extends MigrateOptions {
  /** @defaultValue 1000 — rows compared field by field (plus the first and the last). */
  sampleSize: number;
  /** @defaultValue true */
  verify: boolean;
  /** @defaultValue false — skip the copy, only verify. */
  verifyOnly: boolean;
}

export interface MigrateRunResult {
  copy?: CopyResult;
  verify?: VerifyResult;
}

/** Copies (unless verifyOnly), then verifies (unless verify is false). */
export async function migrateSqliteToPostgres(
  options: Partial<MigrateRunOptions> & Pick<MigrateRunOptions, 'from' | 'to'>,
): Promise<MigrateRunResult> {
  const o: MigrateRunOptions = { ...MIGRATE_DEFAULTS, sampleSize: 1000, verify: true, verifyOnly: false, ...options };
  if (!Number.isInteger(o.sampleSize) || o.sampleSize < 0) {
    throw new StoreError('STORE_CONFIG', 'sampleSize must be an integer ≥ 0');
  }
  const out: MigrateRunResult = {};
  if (!o.verifyOnly) out.copy = await copySqliteToPostgres(o);
  if (o.verify || o.verifyOnly) {
    const src = openSource(o.from);
    const c = await connect(o.to);
    try {
      out.verify = await verifyCopy(src, c, o.sampleSize);
    } finally {
      src.close();
      await c.end().catch(() => undefined);
    }
  }
  return out;
}
