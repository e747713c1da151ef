/**
 * The history store: SQLite by default, PostgreSQL (with TimescaleDB when the
 * extension is available) when DATABASE_URL says `postgres://…`.
 */
import { parseDatabaseUrl, resolveStoreOptions, type StoreOptions } from './options.js';
import { PgStore } from './postgres/store.js';
import { SqliteStore } from './sqlite/store.js';
import type { Store } from './types.js';

export * from './types.js';
export { StoreError, isTransient, type StoreErrorCode } from './errors.js';
export {
  STORE_DEFAULTS,
  RETENTION_TABLES,
  type RetentionTable,
  type StoreOptions,
  type StoreLogger,
  parseDatabaseUrl,
} from './options.js';

/**
 * Opens the store named by `databaseUrl` (`sqlite:FILE` or `postgres://…`; a
 * process takes it from its configuration, `DATABASE_URL`) and, unless `autoMigrate` is false,
 * applies pending migrations. With `readUrl` (`DATABASE_READ_URL`) a
 * PostgreSQL store sends its read side to that replica; SQLite ignores it
 * (said through `logger`). Rejects with a StoreError (STORE_CONFIG,
 * STORE_UNAVAILABLE, STORE_MIGRATION, …).
 */
export async function openStore(databaseUrl: string, options: Partial<StoreOptions> = {}): Promise<Store> {
  const opts = resolveStoreOptions(options);
  const target = parseDatabaseUrl(databaseUrl);
  if (target.kind === 'sqlite') {
    if (opts.readUrl) opts.logger?.warn({}, 'store reads: the SQLite file (DATABASE_READ_URL is ignored with SQLite)');
    else opts.logger?.info({}, 'store reads: the SQLite file');
    return SqliteStore.open(target.path, { ...opts, readUrl: undefined });
  }
  return PgStore.open(target.url, opts);
}
