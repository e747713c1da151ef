/** Options, defaults and counters of the {@link SpooledStreamWriter} (src/bus/spooled-stream.ts). */
import type { BreakerOptions } from './breaker.js';
import type { BusLogger } from './log.js';
import { silentLogger } from './log.js';
import type { TrimPolicy } from './streams/producer.js';

/** Where a {@link SpooledStreamWriter} writes and how it falls back. */
export interface SpooledStreamWriterOptions {
  /** The stream key, e.g. `can:raw`. Required. */
  stream: string;
  /** Directory of the spool file (e.g. `<data dir>/spool`). Required. */
  dir: string;
  /** @defaultValue the stream name with unsafe characters replaced — the spool file is `<dir>/<name>.spool`. */
  name: string;
  /** @defaultValue `{ maxLen: 1_000_000 }` — as the bus's StreamProducer: `{ maxLen }`, `{ minAgeMs }` or `'none'`, with `~`. */
  trim: TrimPolicy;
  /** @defaultValue true — `false` writes to the spool only, on purpose. */
  useRedis: boolean;
  /** @defaultValue 500 — records per replay step (one Lua call each). */
  replayBatch: number;
  /** @defaultValue 200 — how often a non-empty spool tries to replay. */
  replayIntervalMs: number;
  /**
   * Size cap of the spool file in bytes. When a batch would make the file
   * larger, that batch — the newest — is dropped, counted (`dropped`) and
   * logged, and `spoolFull` is set until the spool has room again: what is
   * already spooled is older, durable and in order, and stays so.
   * @defaultValue 536870912 (512 MiB; some 4 million frames)
   */
  maxSpoolBytes: number;
  /** @defaultValue 604800 (7 days) — TTL of the writer's ack key in Redis. */
  ackTtlSeconds: number;
  /** @defaultValue `spool:ack:` — ack keys are `<prefix><writer id>`. */
  ackPrefix: string;
  /**
   * Replicas that must confirm a batch (`WAIT n`) before it leaves the spool: a
   * batch added directly but not confirmed within {@link waitTimeoutMs} is also
   * appended to the spool and replayed (exactly once) until it is, so a failover
   * to a replica that lacked it loses nothing.
   * @defaultValue `auto` — 1 when the primary has connected replicas (checked at
   * open, attach, after each switch of primary, after an unconfirmed WAIT and every 10 s), else 0
   */
  waitReplicas: number | 'auto';
  /** @defaultValue 1000 — how long one `WAIT` may take, ms. */
  waitTimeoutMs: number;
  /**
   * The writer gives every entry its stream id (`<ms>-<seq>`, see {@link StreamIdClock}) before it
   * first sends it, so an entry whose reply was lost (the primary died after adding it) is sent again
   * under the same id, and a reader that stored it from that primary recognises it. An id the stream
   * is already past (another writer ahead, the clock stepped back) is replaced by a new one Redis
   * gives (counted as `idsMoved`). `false`: Redis gives every id (`*`).
   * @defaultValue true
   */
  assignIds: boolean;
  /** @defaultValue `{ name: 'redis:<stream>' }` */
  breaker: Partial<BreakerOptions>;
  /** @defaultValue silent */
  logger: BusLogger;
}

export const SPOOLED_STREAM_DEFAULTS: Omit<SpooledStreamWriterOptions, 'stream' | 'dir' | 'name'> = {
  trim: { maxLen: 1_000_000 },
  useRedis: true,
  replayBatch: 500,
  replayIntervalMs: 200,
  maxSpoolBytes: 512 * 1024 * 1024,
  ackTtlSeconds: 7 * 24 * 3600,
  ackPrefix: 'spool:ack:',
  waitReplicas: 'auto',
  waitTimeoutMs: 1000,
  assignIds: true,
  breaker: {},
  logger: silentLogger,
};

export interface SpooledStreamStats {
  /** Entries added to Redis directly. */
  direct: number;
  /** Entries written to the spool file. */
  spooled: number;
  /** Entries replayed from the spool into Redis. */
  replayed: number;
  /** Entries Redis already had (a lost reply, a replay after a crash): skipped, not added twice. */
  duplicatesSkipped: number;
  /** Entries in the spool waiting for Redis. */
  pending: number;
  /** Corrupt spool lines skipped. */
  corrupt: number;
  /** Entries dropped because the spool file was at {@link SpooledStreamWriterOptions.maxSpoolBytes}. */
  dropped: number;
  /** Bytes in the spool file. */
  spoolBytes: number;
  /** True while batches are being dropped (the spool is full and Redis unreachable). */
  spoolFull: boolean;
  /** Entries added (directly or by the replay) that no replica confirmed in time: kept in the spool until one does. */
  unconfirmed: number;
  /**
   * Entries the replay added after the connection moved to another primary: spooled during the
   * outage, or added to the old primary but not confirmed by its replica before it died.
   */
  replayedAfterSwitch: number;
  /**
   * Replayed entries that could not keep the id an earlier primary gave them (the stream had moved
   * past it): a reader that stored them from that primary sees them again under a new id.
   */
  reassigned: number;
  /**
   * Entries sent for the first time under an id this writer gave them that the stream was already
   * past (another writer ahead of it, the clock stepped back): Redis gave them a new one. Harmless.
   */
  idsMoved: number;
  /** Replicas each batch waits for now (`WAIT`); see {@link SpooledStreamWriterOptions.waitReplicas}. */
  waitReplicas: number;
}

/** Where a batch went: Redis, the spool, or nowhere (the spool was full: dropped and counted). */
export type WriteOutcome = 'redis' | 'spool' | 'dropped';
