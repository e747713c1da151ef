import { EventEmitter } from 'node:events';
import type { Connection } from './connection.js';
import { ConfigError } from './errors.js';
import type { BusLogger } from './log.js';
import { silentLogger } from './log.js';
import type { PresenceWatcher } from './presence.js';
import { deleteEmptyConsumer } from './streams/consumer-claims.js';

/** One stream entry taken over from a vanished consumer. */
export interface ClaimedEntry {
  id: string;
  fields: Record<string, string>;
}

/**
 * Claims `from`'s pending entries for the survivor and returns them (or
 * their number). With the bus's consumer-group worker pass
 * `(from) => consumer.claimFrom(from, { deleteConsumer: true })`: it handles
 * the claimed entries itself. The default is {@link claimPendingOf}
 * (XPENDING + XCLAIM), which returns the entries for the caller to process.
 */
export type ClaimFn = (from: string) => Promise<ClaimedEntry[] | number>;

/** How a survivor takes over the pending entries of consumers whose heartbeat vanished. */
export interface OrphanClaimerOptions {
  /** The stream, e.g. `can:raw`. Required. */
  stream: string;
  /** The consumer group, e.g. `can-worker`. Required. */
  group: string;
  /**
   * This process's consumer name. Required. Consumers are named after
   * their instance (`heartbeat:{instance}`), which is how a consumer without
   * a heartbeat is recognised.
   */
  consumer: string;
  /**
   * @defaultValue 0 — only entries idle at least this long are claimed. The
   * heartbeat is already gone, so there is no reason to wait; a positive
   * value guards against a consumer that started reading before its first beat.
   */
  minIdleMs: number;
  /**
   * @defaultValue 30000 (the heartbeat TTL) — the sweep only takes from a
   * consumer without a heartbeat that has also not read for this long, so a
   * consumer that never announces itself but is alive is left alone.
   */
  sweepMinIdleMs: number;
  /** @defaultValue 200 — entries per XPENDING/XCLAIM round. */
  batch: number;
  /** @defaultValue true — XGROUP DELCONSUMER a dead consumer once nothing is pending for it. */
  deleteDeadConsumers: boolean;
  /** @defaultValue {@link claimPendingOf} to `consumer` */
  claim: ClaimFn | undefined;
  /** @defaultValue silent */
  logger: BusLogger;
}

export const ORPHAN_CLAIMER_DEFAULTS = {
  minIdleMs: 0,
  sweepMinIdleMs: 30_000,
  batch: 200,
  deleteDeadConsumers: true,
  claim: undefined,
  logger: silentLogger,
} satisfies Partial<OrphanClaimerOptions>;

export interface OrphanClaimerEvents {
  /**
   * Entries now pending for this consumer: process and ack them (`entries`
   * is empty when the claim function only reports a count).
   */
  claimed: [from: string, count: number, entries: ClaimedEntry[]];
  error: [err: Error];
}

/**
 * XPENDING for one consumer + XCLAIM to another, in rounds of `batch`,
 * until nothing idle enough is left. Entries deleted from the stream
 * meanwhile (XCLAIM returns nil) are acked so they leave the PEL.
 */
export async function claimPendingOf(
  conn: Connection,
  o: { stream: string; group: string; to: string; from: string; minIdleMs?: number; batch?: number },
): Promise<ClaimedEntry[]> {
  const out: ClaimedEntry[] = [];
  const minIdle = o.minIdleMs ?? 0;
  const batch = o.batch ?? 200;
  let start = '-';
  for (;;) {
    const pend = await conn.run(`XPENDING ${o.stream}`, (c) =>
      c.xPendingRange(o.stream, o.group, start, '+', batch, {
        consumer: o.from,
        ...(minIdle > 0 ? { IDLE: minIdle } : {}),
      }),
    );
    if (pend.length === 0) break;
    const ids = pend.map((p) => String(p.id));
    const claimed = await conn.run(`XCLAIM ${o.stream}`, (c) => c.xClaim(o.stream, o.group, o.to, minIdle, ids));
    const gone: string[] = [];
    claimed.forEach((m, i) => {
      if (m === null || m === undefined) gone.push(ids[i] as string);
      else {
        const msg = m as { id: string; message: Record<string, string> };
        out.push({ id: String(msg.id), fields: { ...msg.message } });
      }
    });
    if (gone.length > 0) await conn.run(`XACK ${o.stream}`, (c) => c.xAck(o.stream, o.group, gone));
    if (pend.length < batch) break;
    start = `(${ids[ids.length - 1] as string}`;
  }
  return out;
}

/** Consumers of a group with their pending count and idle time (XINFO CONSUMERS). */
export async function groupConsumers(
  conn: Connection,
  stream: string,
  group: string,
): Promise<{ name: string; pending: number; idle: number }[]> {
  const raw = await conn.run(`XINFO CONSUMERS ${stream}`, (c) => c.xInfoConsumers(stream, group));
  return (raw as unknown[]).map((r) => {
    const rec = r instanceof Map ? Object.fromEntries(r) : (r as Record<string, unknown>);
    return { name: String(rec.name), pending: Number(rec.pending), idle: Number(rec.idle) };
  });
}

/**
 * Takes over the pending entries of consumers whose heartbeat vanished:
 * at once when the {@link PresenceWatcher} reports a vanished instance, and
 * at every scan for any consumer of the group that has pending entries and
 * no live heartbeat that has not read for `sweepMinIdleMs` (one that died before
 * this process started watching).
 * Emits `claimed` with the entries, which are now this consumer's to
 * process and ack. Several survivors may run this at once: XCLAIM gives each
 * entry to one of them.
 */
export class OrphanClaimer extends EventEmitter<OrphanClaimerEvents> {
  readonly options: OrphanClaimerOptions;
  readonly #conn: Connection;
  readonly #watcher: PresenceWatcher;
  readonly #claim: ClaimFn;
  #busy: Promise<void> = Promise.resolve();
  #claimedTotal = 0;
  readonly #onVanished = (instance: string) => void this.#enqueue(() => this.#claimFrom(instance));
  readonly #onScan = () => void this.#enqueue(() => this.sweep());

  constructor(
    conn: Connection,
    watcher: PresenceWatcher,
    options: Partial<OrphanClaimerOptions> & Pick<OrphanClaimerOptions, 'stream' | 'group' | 'consumer'>,
  ) {
    super();
    const o: OrphanClaimerOptions = { ...ORPHAN_CLAIMER_DEFAULTS, ...options };
    if (!o.stream || !o.group || !o.consumer) throw new ConfigError('stream, group and consumer are required');
    if (!(o.minIdleMs >= 0) || !(o.batch > 0)) throw new ConfigError('minIdleMs must be >= 0 and batch > 0');
    this.options = o;
    this.#conn = conn;
    this.#watcher = watcher;
    this.#claim =
      o.claim ??
      ((from) =>
        claimPendingOf(conn, {
          stream: o.stream,
          group: o.group,
          to: o.consumer,
          from,
          minIdleMs: o.minIdleMs,
          batch: o.batch,
        }));
    watcher.on('vanished', this.#onVanished);
    watcher.on('scan', this.#onScan);
  }

  /** Entries claimed so far. */
  get claimedTotal(): number {
    return this.#claimedTotal;
  }

  /** Claims from every consumer of the group that has pending entries and no live heartbeat. */
  async sweep(): Promise<void> {
    const live = new Set(this.#watcher.live);
    let consumers: { name: string; pending: number; idle: number }[];
    try {
      consumers = await groupConsumers(this.#conn, this.options.stream, this.options.group);
    } catch (err) {
      this.#fail(err);
      return;
    }
    for (const c of consumers) {
      if (c.name === this.options.consumer || live.has(c.name) || c.idle < this.options.sweepMinIdleMs) continue;
      if (c.pending > 0) await this.#claimFrom(c.name);
      else if (this.options.deleteDeadConsumers) await this.#deleteConsumer(c.name);
    }
  }

  /** Waits for the claims in progress. */
  async idle(): Promise<void> {
    await this.#busy;
  }

  async close(): Promise<void> {
    this.#watcher.off('vanished', this.#onVanished);
    this.#watcher.off('scan', this.#onScan);
    await this.#busy;
  }

  async #claimFrom(from: string): Promise<void> {
    if (from === this.options.consumer) return;
    let entries: ClaimedEntry[];
    let count: number;
    try {
      const r = await this.#claim(from);
      entries = typeof r === 'number' ? [] : r;
      count = typeof r === 'number' ? r : r.length;
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (count > 0) {
      this.#claimedTotal += count;
      this.options.logger.info(
        {
          stream: this.options.stream,
          group: this.options.group,
          from,
          to: this.options.consumer,
          entries: entries.length,
        },
        'claimed the pending entries of a vanished consumer',
      );
      this.emit('claimed', from, count, entries);
    }
  }

  async #deleteConsumer(name: string): Promise<void> {
    const { stream, group } = this.options;
    try {
      // Only when nothing is pending (DELCONSUMER drops a consumer's pending entries), checked atomically.
      await deleteEmptyConsumer(this.#conn, stream, group, name);
    } catch (err) {
      this.#fail(err);
    }
  }

  #fail(err: unknown): void {
    this.options.logger.warn({ stream: this.options.stream, err: (err as Error).message }, 'orphan claim failed');
    if (this.listenerCount('error') > 0) this.emit('error', err as Error);
  }

  #enqueue(fn: () => Promise<void>): Promise<void> {
    this.#busy = this.#busy.then(fn, fn);
    return this.#busy;
  }
}
