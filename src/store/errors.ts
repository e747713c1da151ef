/**
 * Every error the store raises is a {@link StoreError} with a stable `code`;
 * callers check `instanceof StoreError` and `code`, never the message text.
 * The driver's error is kept as `cause`.
 */
export type StoreErrorCode =
  /** Bad DATABASE_URL or options. */
  | 'STORE_CONFIG'
  /** The database cannot be reached (refused, reset, shut down, connect timeout). Retry later. */
  | 'STORE_UNAVAILABLE'
  /** A statement ran longer than the configured timeout. */
  | 'STORE_TIMEOUT'
  /** SQLite: the file is locked by another writer for longer than the busy timeout; PostgreSQL: deadlock, serialization failure. */
  | 'STORE_BUSY'
  /** close() was called; no more calls are accepted. */
  | 'STORE_CLOSED'
  /** A caller passed an invalid argument (bad row, bad range). Nothing was written. */
  | 'STORE_INVALID'
  /** A schema migration failed. */
  | 'STORE_MIGRATION'
  /** Any other database error (constraint, SQL error). */
  | 'STORE_QUERY';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** True when retrying later may succeed (the worker keeps entries unacked). */
export function isTransient(err: unknown): boolean {
  return (
    err instanceof StoreError &&
    (err.code === 'STORE_UNAVAILABLE' || err.code === 'STORE_TIMEOUT' || err.code === 'STORE_BUSY')
  );
}

// admin/crash shutdown, cannot connect now; disk full, out of memory, too many connections; connection exceptions
const PG_UNAVAILABLE_STATES = new Set([
  ...['57P01', '57P02', '57P03', '53100', '53200', '53300'],
  ...['08000', '08001', '08003', '08004', '08006'],
]);
// serialization failure, deadlock detected, lock not available: a retry succeeds
const PG_BUSY_STATES = new Set(['40001', '40P01', '55P03']);
const NET_CODES = new Set([
  ...['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN'],
  ...['ENOTDIR', 'ENOENT', 'EACCES', 'EPERM', 'EROFS', 'ENOSPC'], // SQLite file or directory unusable
]);

/** Maps a pg / better-sqlite3 / network error to a {@link StoreError}. */
export function toStoreError(err: unknown, context: string): StoreError {
  if (err instanceof StoreError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const code = String((e as { code?: unknown }).code ?? '');
  const msg = e.message || code || 'database error';
  const wrap = (c: StoreErrorCode, m = msg) => new StoreError(c, `${context}: ${m}`, { cause: e });
  if (NET_CODES.has(code) || PG_UNAVAILABLE_STATES.has(code)) return wrap('STORE_UNAVAILABLE');
  if (code === '57014') return wrap('STORE_TIMEOUT');
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || PG_BUSY_STATES.has(code)) return wrap('STORE_BUSY');
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_IOERR' || code === 'SQLITE_FULL') return wrap('STORE_UNAVAILABLE');
  if (
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|not queryable/i.test(
      msg,
    )
  ) {
    return wrap('STORE_UNAVAILABLE');
  }
  if (/Query read timeout/i.test(msg)) return wrap('STORE_TIMEOUT');
  if (/database connection is not open|Cannot use a pool after calling end/i.test(msg)) return wrap('STORE_CLOSED');
  return wrap('STORE_QUERY');
}
