import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { CircuitBreaker } from './breaker.js';
import type { Connection } from './connection.js';
import { ConfigError } from './errors.js';
import type { SpoolRecord } from './spool.js';
import { SpoolFile } from './spool.js';
import { appendOnce, type AppendResult } from './spool-append.js';
import { ReplicaWait } from './replica-wait.js';
import { StreamIdClock } from './streams/id-clock.js';
import {
  SPOOLED_STREAM_DEFAULTS,
  type SpooledStreamStats,
  type SpooledStreamWriterOptions,
  type WriteOutcome,
} from './spooled-stream-options.js';

export * from './spooled-stream-options.js';

/**
 * Writes batches of stream entries to Redis, and to a local append-only
 * spool file when Redis is unreachable, behind a {@link CircuitBreaker}.
 *
 * Order and exactly-once: every entry gets a sequence number of this
 * writer; entries are added by one Lua script that skips sequence numbers
 * at or below the writer's ack key (`spool:ack:<writer id>`) and advances
 * it in the same step. So an entry whose reply was lost, or a replay
 * interrupted by a crash, is never added twice. Once anything is spooled,
 * later batches are spooled behind it until the replay caught up, so the
 * stream receives entries in the order they were written. The spool file is
 * truncated only after Redis confirmed every record in it — and, with
 * `waitReplicas`, after `WAIT` confirmed a replica holds it too: a batch
 * the replicas did not confirm stays in the spool and is replayed (the
 * ack key skips what the primary already has), so a failover to a replica
 * that lacked it loses nothing and adds nothing twice.
 */
export class SpooledStreamWriter {
  readonly options: SpooledStreamWriterOptions;
  readonly breaker: CircuitBreaker;
  readonly writerId: string;
  readonly #file: SpoolFile;
  #conn: Connection | undefined;
  #seq = 0;
  #offset = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #replaying = false;
  #closed = false;
  readonly #stats: SpooledStreamStats = {
    direct: 0,
    spooled: 0,
    replayed: 0,
    duplicatesSkipped: 0,
    pending: 0,
    corrupt: 0,
    dropped: 0,
    spoolBytes: 0,
    spoolFull: false,
    unconfirmed: 0,
    replayedAfterSwitch: 0,
    reassigned: 0,
    idsMoved: 0,
    waitReplicas: 0,
  };
  readonly #ids = new StreamIdClock();
  readonly #wait: ReplicaWait;
  /**
   * Ids the replay gave records not yet confirmed by a replica (at most a chunk): kept in memory, so a
   * replay into a new primary puts them back under the same ids (records added directly and not
   * confirmed carry theirs in the spool file).
   */
  readonly #replayIds = new Map<string, string>();
  /** The connection's switch count when the oldest pending record was spooled. */
  #pendingSwitches = 0;
  readonly #onSwitch = (): void => {
    const conn = this.#conn;
    if (conn) void this.#serial(() => this.#wait.refresh(conn));
  };

  private constructor(conn: Connection | undefined, o: SpooledStreamWriterOptions, file: SpoolFile, pending: number) {
    this.options = o;
    this.#conn = conn;
    this.#file = file;
    this.#stats.pending = pending;
    this.writerId = randomUUID();
    this.#wait = new ReplicaWait(o);
    this.breaker = new CircuitBreaker({ name: `redis:${o.stream}`, logger: o.logger, ...o.breaker });
    if (o.useRedis) {
      this.#timer = setInterval(() => void this.#replayLoop(), o.replayIntervalMs);
      this.#timer.unref();
    }
  }

  /**
   * Opens the spool file (replaying what an earlier run left in it once
   * Redis is reachable). `conn` may be undefined while Redis is down at
   * start: everything is spooled until {@link attach}.
   */
  static async open(
    conn: Connection | undefined,
    options: Partial<SpooledStreamWriterOptions> & Pick<SpooledStreamWriterOptions, 'stream' | 'dir'>,
  ): Promise<SpooledStreamWriter> {
    const o: SpooledStreamWriterOptions = {
      ...SPOOLED_STREAM_DEFAULTS,
      name: options.stream.replace(/[^A-Za-z0-9_.-]/g, '_'),
      ...options,
    };
    if (!o.stream) throw new ConfigError('stream must not be empty');
    if (o.trim !== 'none') {
      const n = 'maxLen' in o.trim ? o.trim.maxLen : o.trim.minAgeMs;
      if (!(Number.isInteger(n) && n > 0)) throw new ConfigError(`trim must be a positive integer, got ${n}`);
    }
    for (const k of ['replayBatch', 'replayIntervalMs', 'ackTtlSeconds', 'maxSpoolBytes', 'waitTimeoutMs'] as const) {
      if (!(o[k] > 0)) throw new ConfigError(`${k} must be > 0`);
    }
    if (o.waitReplicas !== 'auto' && !(Number.isInteger(o.waitReplicas) && o.waitReplicas >= 0)) {
      throw new ConfigError(`waitReplicas must be 'auto' or an integer >= 0, got ${String(o.waitReplicas)}`);
    }
    const { file, records } = await SpoolFile.open(path.join(o.dir, `${o.name}.spool`), o.logger);
    if (records > 0) o.logger.info({ stream: o.stream, records }, 'spool holds records from an earlier run');
    const w = new SpooledStreamWriter(conn, o, file, records);
    if (conn) w.attach(conn);
    return w;
  }

  /**
   * Gives the writer a connection (when Redis became reachable after
   * start); the number of replicas to wait for is settled before the next write.
   */
  attach(conn: Connection): void {
    this.#conn?.off('switched', this.#onSwitch);
    this.#conn = conn;
    this.#pendingSwitches = conn.switches;
    conn.on('switched', this.#onSwitch);
    void this.#serial(() => this.#wait.refresh(conn));
  }

  get stats(): SpooledStreamStats {
    return { ...this.#stats, spoolBytes: this.#file.size, waitReplicas: this.#wait.replicas };
  }

  /** Path of the spool file. */
  get spoolPath(): string {
    return this.#file.path;
  }

  /**
   * Writes one batch: to Redis when the breaker is closed and nothing is
   * spooled, else (or when Redis fails) to the spool, fsync'd. Resolves
   * once the batch is durable in one place or the other.
   */
  write(entries: ReadonlyArray<Record<string, string>>): Promise<WriteOutcome> {
    if (this.#closed) return Promise.reject(new ConfigError('spooled writer is closed'));
    return this.#serial(async () => {
      const now = Date.now();
      const recs: SpoolRecord[] = entries.map((f) => ({ w: this.writerId, q: ++this.#seq, t: now, f }));
      if (recs.length === 0) return 'redis';
      const conn = this.#conn;
      if (this.options.useRedis && conn && this.#stats.pending === 0 && this.breaker.allow()) {
        if (!conn.isReady) this.breaker.failure(`connection ${conn.health}`);
        else {
          let added: { skipped: number; ids: string[] } | undefined;
          // the ids go into the spool with the batch if the reply never comes: a resend keeps them
          if (this.options.assignIds) for (const rec of recs) rec.i = this.#ids.next(now);
          try {
            const r = await this.#add(conn, recs, () => false);
            added = r;
            this.breaker.success();
            this.#stats.direct += r.added;
            this.#stats.duplicatesSkipped += r.skipped;
            if (await this.#wait.confirmed(conn)) return 'redis';
            this.#unconfirmed(recs, r);
          } catch (err) {
            if (added) this.#unconfirmed(recs, added);
            this.breaker.failure(err);
            this.options.logger.warn(
              { stream: this.options.stream, err: (err as Error).message, entries: recs.length },
              'stream write failed; batch spooled',
            );
          }
        }
      }
      if (!(await this.#file.append(recs, this.options.maxSpoolBytes))) {
        this.#stats.dropped += recs.length;
        if (!this.#stats.spoolFull) {
          this.#stats.spoolFull = true;
          this.options.logger.error(
            { stream: this.options.stream, maxSpoolBytes: this.options.maxSpoolBytes, dropped: this.#stats.dropped },
            'spool full: dropping new batches (counted as dropped) until Redis takes the spool',
          );
        }
        return 'dropped';
      }
      if (this.#stats.spoolFull) {
        this.#stats.spoolFull = false;
        this.options.logger.warn(
          { stream: this.options.stream, dropped: this.#stats.dropped },
          'spool has room again; entries dropped while it was full are counted in dropped',
        );
      }
      this.#stats.spooled += recs.length;
      if (this.#stats.pending === 0) this.#pendingSwitches = conn?.switches ?? 0;
      this.#stats.pending += recs.length;
      return 'spool';
    });
  }

  /**
   * Replays the spool now (as far as Redis allows) and resolves with the
   * number of entries still pending.
   */
  async flush(): Promise<number> {
    await this.#replayLoop();
    return this.#stats.pending;
  }

  /** Stops the replay timer and closes the file; spooled records stay for the next run. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#conn?.off('switched', this.#onSwitch);
    await this.#queue.catch(() => undefined);
    await this.#file.close();
  }

  async #replayLoop(): Promise<void> {
    if (this.#replaying || this.#closed) return;
    this.#replaying = true;
    try {
      while (!this.#closed && (await this.#serial(() => this.#replayStep()))) {
        // each step is queued separately, so writes interleave with a long replay
      }
    } finally {
      this.#replaying = false;
    }
  }

  /** Replays one chunk; true when it made progress and more may follow. */
  async #replayStep(): Promise<boolean> {
    const conn = this.#conn;
    if (!this.options.useRedis || !conn || (this.#stats.pending === 0 && this.#file.size === 0)) return false;
    if (!this.breaker.allow()) return false;
    if (!conn.isReady) {
      this.breaker.failure(`connection ${conn.health}`);
      return false;
    }
    const chunk = await this.#file.read(this.#offset, 256 * 1024, this.options.replayBatch);
    this.#stats.corrupt += chunk.corrupt;
    try {
      if (chunk.records.length > 0) {
        // records this replay added before without a replica confirming them keep the ids they got
        for (const rec of chunk.records) rec.i ??= this.#replayIds.get(`${rec.w}:${rec.q}`);
        const sentBefore = chunk.records.map((rec) => rec.i !== undefined);
        if (this.options.assignIds) {
          // never sent (spooled while Redis was away): ids now, kept if this step's reply is lost
          const now = Date.now();
          for (const rec of chunk.records) {
            if (rec.i !== undefined) continue;
            rec.i = this.#ids.next(now);
            this.#replayIds.set(`${rec.w}:${rec.q}`, rec.i);
          }
        }
        const r = await this.#add(conn, chunk.records, (k) => sentBefore[k] === true);
        chunk.records.forEach((rec, k) => {
          if (r.ids[k]) this.#replayIds.set(`${rec.w}:${rec.q}`, r.ids[k] as string);
        });
        this.#stats.replayed += r.added;
        this.#stats.duplicatesSkipped += r.skipped;
        if (conn.switches !== this.#pendingSwitches) this.#stats.replayedAfterSwitch += r.added;
        this.breaker.success();
        // the spool lets go of records only once a replica holds them too
        if (!(await this.#wait.confirmed(conn))) {
          this.#stats.unconfirmed += r.added;
          return false;
        }
        for (const rec of chunk.records) this.#replayIds.delete(`${rec.w}:${rec.q}`);
      }
      this.breaker.success();
    } catch (err) {
      this.breaker.failure(err);
      this.options.logger.warn({ stream: this.options.stream, err: (err as Error).message }, 'spool replay failed');
      return false;
    }
    this.#offset = chunk.next;
    this.#stats.pending = Math.max(0, this.#stats.pending - chunk.records.length);
    if (this.#offset >= this.#file.size) {
      await this.#file.truncate();
      this.#offset = 0;
      this.#stats.pending = 0;
      this.#stats.spoolFull = false;
      this.options.logger.info(
        { stream: this.options.stream, replayed: this.#stats.replayed },
        'spool replayed into Redis and truncated',
      );
      return false;
    }
    return true;
  }

  /**
   * A batch is in Redis but no replica confirmed it: it goes to the spool
   * too, each record with the id the primary gave it, so a replay into a
   * new primary that lacks it puts it back under the same id.
   */
  #unconfirmed(recs: SpoolRecord[], r: { skipped: number; ids: string[] }): void {
    recs.forEach((rec, k) => {
      if (r.ids[k]) rec.i = r.ids[k];
    });
    this.#stats.unconfirmed += recs.length;
    this.options.logger.warn(
      { stream: this.options.stream, entries: recs.length, waitReplicas: this.#wait.replicas },
      'batch not confirmed by a replica in time; kept in the spool until it is',
    );
  }

  /**
   * Adds records with the exactly-once script (src/bus/spool-append.ts). A record added under
   * another id than the one it carried was `reassigned` when it had been sent before (a reader may
   * have it under the old one), else its id `moved`.
   */
  async #add(
    conn: Connection,
    recs: ReadonlyArray<SpoolRecord>,
    sentBefore: (k: number) => boolean,
  ): Promise<AppendResult> {
    const carried = recs.map((rec) => rec.i);
    const r = await appendOnce(conn, this.options, recs);
    r.ids.forEach((id, k) => {
      if (!id) return;
      this.#ids.observe(id);
      const had = carried[k];
      if (had === undefined || had === '*' || had === id) return;
      if (sentBefore(k)) this.#stats.reassigned++;
      else this.#stats.idsMoved++;
    });
    return r;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn, fn);
    this.#queue = p.catch(() => undefined);
    return p;
  }
}
