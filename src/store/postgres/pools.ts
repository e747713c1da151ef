/**
 * The PostgreSQL store's connections: the primary's pool (every write, and
 * every read when no replica is configured) and, with `readUrl`
 * (`DATABASE_READ_URL`), a read-only pool on a streaming replica that serves
 * the read side. A replica that cannot be reached sends reads to the primary
 * (counted; logged once when it goes and once when it returns) and is tried
 * again after `readRetryMs`; a read the replica cancels (a conflict with
 * replay) is run again on the primary. Both pools reconnect by themselves:
 * while a server is down its calls reject with STORE_UNAVAILABLE within the
 * connect timeout, and the first call after it returns succeeds.
 */
import pg from 'pg';
import { withDeadline } from '../../bus/deadline.js';
import { StoreError, toStoreError } from '../errors.js';
import { serverOf, type StoreOptions } from '../options.js';
import type { ReadStatus, ReplicaStatus } from '../types.js';

/** Which pool a call wants: the primary, or the read side (the replica when there is one). */
export type Side = 'primary' | 'read';

// int8 (count(*), BIGSERIAL ids) as numbers: our counts stay far below 2^53
const TYPES = {
  getTypeParser: (oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format),
} as pg.CustomTypesConfig;

// lag: 0 while everything received is replayed (an idle primary is not lag), else the age of the last replay
const PROBE = `SELECT pg_is_in_recovery() AS recovery,
    CASE WHEN NOT pg_is_in_recovery() THEN 0
         WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
         ELSE greatest(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000) END::float8 AS lag_ms,
    (extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000)::float8 AS replayed_at,
    (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiver`;

function newPool(url: string, opts: StoreOptions, readOnly: boolean): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize,
    connectionTimeoutMillis: opts.connectTimeoutMs,
    idleTimeoutMillis: 10_000,
    keepAlive: true,
    types: TYPES,
    ...(opts.statementTimeoutMs > 0 ? { statement_timeout: opts.statementTimeoutMs } : {}),
    // a write sent to the read side by mistake fails instead of landing on whatever the URL names
    ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
  });
  // an idle client whose server went away: the pool drops it; the next call reconnects
  pool.on('error', () => undefined);
  return pool;
}

/**
 * A client in use whose server goes away emits 'error' (besides failing its query); the pool listens
 * only to idle clients, so without this the event would be uncaught and end the process. Once per client.
 */
function guard(client: pg.PoolClient): pg.PoolClient {
  // the pool's own listener is off while the client is handed out: none left means ours is not there yet
  if (client.listenerCount('error') === 0) client.on('error', () => undefined); // the query in flight rejects with it
  return client;
}

/** The replica failed in a way the primary can make up for. */
function fallsBack(err: StoreError): boolean {
  return err.code === 'STORE_UNAVAILABLE' || err.code === 'STORE_BUSY';
}

export class PgPools {
  readonly primary: pg.Pool;
  readonly replica: pg.Pool | undefined;
  readonly #opts: StoreOptions;
  readonly #server: string | undefined;
  readonly #counts = { replica: 0, primary: 0, fallbacks: 0 };
  /** While set, the replica is down: reads go to the primary until `retryAt`. */
  #down: { since: number; retryAt: number } | undefined;
  #closed = false;

  constructor(url: string, opts: StoreOptions) {
    this.#opts = opts;
    this.primary = newPool(url, opts, false);
    if (opts.readUrl) {
      this.replica = newPool(opts.readUrl, opts, true);
      this.#server = serverOf(opts.readUrl);
    }
  }

  /** Says once, at open, where reads go. */
  announce(): void {
    const log = this.#opts.logger;
    if (this.#server) log?.info({ replica: this.#server }, 'store reads: the read replica (DATABASE_READ_URL)');
    else log?.info({}, 'store reads: the primary (no DATABASE_READ_URL)');
  }

  /** Runs `fn` on one pooled client of `side`; connection-level failures discard the client. */
  async withClient<T>(side: Side, context: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (side === 'read' && this.replica && this.#replicaAllowed()) {
      try {
        const out = await this.#run(this.replica, context, fn);
        this.#replicaOk();
        this.#counts.replica++;
        return out;
      } catch (err) {
        if (!(err instanceof StoreError) || !fallsBack(err)) throw err;
        this.#replicaFailed(err, context);
      }
    }
    if (side === 'read') this.#countPrimaryRead();
    return this.#run(this.primary, context, fn);
  }

  /**
   * One client of `side` held by the caller (a cursor): the replica's, or the primary's when the replica
   * cannot be reached. The caller releases it.
   */
  async connect(side: Side, context: string): Promise<pg.PoolClient> {
    this.#checkOpen(context);
    if (side === 'read' && this.replica && this.#replicaAllowed()) {
      try {
        const c = guard(await this.replica.connect());
        this.#replicaOk();
        this.#counts.replica++;
        return c;
      } catch (err) {
        this.#replicaFailed(toStoreError(err, context), context);
      }
    }
    if (side === 'read') this.#countPrimaryRead();
    try {
      return guard(await this.primary.connect());
    } catch (err) {
      throw toStoreError(err, context);
    }
  }

  /**
   * Where reads go, with the replica probed; a replica that does not answer within `timeoutMs` (default:
   * the connect timeout) is reported and marked down.
   */
  async status(timeoutMs = this.#opts.connectTimeoutMs): Promise<ReadStatus> {
    const base = { reads: { replica: this.#counts.replica, primary: this.#counts.primary } };
    if (!this.replica || !this.#server) return { target: 'primary', ...base, fallbacks: 0, replica: null };
    return { target: 'replica', ...base, fallbacks: this.#counts.fallbacks, replica: await this.#probe(timeoutMs) };
  }

  async #probe(timeoutMs: number): Promise<ReplicaStatus> {
    const server = this.#server!;
    try {
      const query = this.#run(this.replica!, 'replica status', (c) =>
        c.query<{ recovery: boolean; lag_ms: number; replayed_at: number | null; receiver: string | null }>(PROBE),
      );
      const r = await withDeadline(query, timeoutMs, () => {
        throw new StoreError('STORE_UNAVAILABLE', `replica status: no answer within ${timeoutMs} ms`);
      });
      this.#replicaOk();
      const row = r.rows[0]!;
      return {
        server,
        up: true,
        lagMs: Math.round(Number(row.lag_ms)),
        replayedAt: row.replayed_at === null ? null : Math.round(Number(row.replayed_at)),
        streaming: row.receiver === null ? null : row.receiver === 'streaming',
        inRecovery: row.recovery,
      };
    } catch (err) {
      const se = toStoreError(err, 'replica status');
      if (fallsBack(se)) this.#replicaFailed(se, 'replica status');
      return { server, up: false, lagMs: null, replayedAt: null, streaming: null, inRecovery: null, error: se.message };
    }
  }

  #checkOpen(context: string): void {
    if (this.#closed) throw new StoreError('STORE_CLOSED', `${context}: the store is closed`);
  }

  async #run<T>(pool: pg.Pool, context: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    this.#checkOpen(context);
    let client: pg.PoolClient;
    try {
      client = guard(await pool.connect());
    } catch (err) {
      throw toStoreError(err, context);
    }
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      const se = toStoreError(err, context);
      if (se.code === 'STORE_UNAVAILABLE' || se.code === 'STORE_TIMEOUT') broken = se;
      throw se;
    } finally {
      client.release(broken);
    }
  }

  #countPrimaryRead(): void {
    this.#counts.primary++;
    if (this.replica) this.#counts.fallbacks++;
  }

  #replicaAllowed(): boolean {
    return !this.#down || performance.now() >= this.#down.retryAt;
  }

  #replicaOk(): void {
    if (!this.#down) return;
    const downMs = performance.now() - this.#down.since;
    this.#down = undefined;
    this.#opts.logger?.info({ replica: this.#server, downMs }, 'read replica back: reads go to it again');
  }

  #replicaFailed(err: StoreError, context: string): void {
    // a read cancelled by replay (STORE_BUSY) is one read's bad luck, not an outage
    if (err.code !== 'STORE_UNAVAILABLE') return;
    const now = performance.now();
    if (!this.#down) {
      this.#opts.logger?.warn(
        { replica: this.#server, err: err.message, context, retryInMs: this.#opts.readRetryMs },
        'read replica unavailable: reads go to the primary',
      );
    }
    this.#down = { since: this.#down?.since ?? now, retryAt: now + this.#opts.readRetryMs };
  }

  async end(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.primary.end(), this.replica?.end()].map((p) => p?.catch(() => undefined)));
  }
}
