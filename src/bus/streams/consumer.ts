import { EventEmitter } from 'node:events';
import type { Connection } from '../connection.js';
import { ReplyError, RetryableError, toBusError } from '../errors.js';
import { LoopBackoff, type ConsumerHealth } from './consumer-health.js';
import {
  claimAllOf,
  claimIdle,
  ensureGroup,
  moveToDeadLetter,
  ownPendingPage,
  touchClaimed,
  type DeadLetterItem,
} from './consumer-claims.js';
import { idBefore, parseReadReply, readGroupArgs, type StreamEntry } from './entries.js';
import {
  resolveConsumerOptions,
  type BatchHandler,
  type BatchResult,
  type ConsumerOptions,
  type ConsumerRequired,
  type ConsumerStats,
} from './consumer-options.js';
import { clusterDeadLetterStream, onCluster } from '../cluster/names.js';

export * from './consumer-options.js';

export { idBefore, type StreamEntry } from './entries.js';
export type { ConsumerHealth } from './consumer-health.js';

/**
 * A consumer-group worker: XREADGROUP with BLOCK on its own connection,
 * a batch handler, XACK only after the handler succeeded, XAUTOCLAIM of
 * entries left idle by dead consumers (at start and periodically), a
 * delivery limit with an atomic move to `<stream>:dead`, and a graceful
 * {@link stop} that finishes and acks the batch in hand. Any number of
 * workers, in any processes, may share a group.
 */
export class StreamConsumer extends EventEmitter<{ health: [state: ConsumerHealth, previous: ConsumerHealth] }> {
  readonly options: ConsumerOptions;
  readonly #shared: Connection;
  readonly #conn: Connection;
  readonly #handler: BatchHandler;
  readonly #stats: ConsumerStats = {
    processed: 0,
    acked: 0,
    deadLettered: 0,
    handlerErrors: 0,
    claimed: 0,
    loopErrors: 0,
    batches: 0,
  };
  readonly #lastError = new Map<string, string>();
  #health: ConsumerHealth = 'starting';
  #stopping = false;
  #pendingDirty = true;
  readonly #held = new Set<string>();
  #touchTimer: NodeJS.Timeout | undefined;
  #nextSweepAt = 0;
  readonly #backoff: LoopBackoff;
  #ackInFlight: Promise<void> | undefined;
  #clientId: number | undefined;
  #reading = false;
  #loop: Promise<void> = Promise.resolve();

  private constructor(shared: Connection, own: Connection, handler: BatchHandler, o: ConsumerOptions) {
    super();
    this.#shared = shared;
    this.#conn = own;
    this.#handler = handler;
    this.options = o;
    this.#backoff = new LoopBackoff(o.backoffBaseMs, o.backoffMaxMs);
    own.on('error', (err) => o.logger.warn({ err: err.message, stream: o.stream }, 'consumer connection error'));
    // a reconnect or a move to another primary gives the reading connection a new id (CLIENT UNBLOCK on stop)
    own.on('reconnected', () => {
      own
        .run('CLIENT ID', (cl) => cl.clientId())
        .then((id) => (this.#clientId = id))
        .catch(() => undefined);
    });
  }

  /**
   * Creates the group if missing, claims idle entries once, and starts the
   * loop on a connection duplicated from `conn` (its command timeout is
   * raised above `blockMs`). `conn` itself serves {@link claimFrom} and stop.
   */
  static async start(
    conn: Connection,
    handler: BatchHandler,
    options: ConsumerRequired & Partial<ConsumerOptions>,
  ): Promise<StreamConsumer> {
    const o = resolveConsumerOptions(
      onCluster(conn.options) && options.deadLetterStream === undefined
        ? { ...options, deadLetterStream: clusterDeadLetterStream(options.stream) }
        : options,
    );
    const own = await conn.duplicate({
      clientName: `${conn.options.clientName}-xread`,
      commandTimeoutMs: o.blockMs + conn.options.commandTimeoutMs,
    });
    const c = new StreamConsumer(conn, own, handler, o);
    try {
      await ensureGroup(own, o);
      c.#clientId = await own.run('CLIENT ID', (cl) => cl.clientId()).catch(() => undefined);
      await c.#sweep(true);
    } catch (err) {
      await own.close();
      throw err;
    }
    c.#setHealth('ready');
    c.#touchTimer = setInterval(
      () => {
        if (c.#held.size === 0) return;
        touchClaimed(conn, o, c.name, [...c.#held]).catch((err: unknown) =>
          o.logger.warn({ err: (err as Error).message, held: c.#held.size }, 'could not refresh held entries'),
        );
      },
      Math.max(50, Math.floor(o.claimIdleMs / 3)),
    );
    c.#touchTimer.unref();
    c.#loop = c.#run();
    return c;
  }

  get stats(): ConsumerStats {
    return { ...this.#stats };
  }

  get health(): ConsumerHealth {
    return this.#health;
  }

  /** The consumer name in the group. */
  get name(): string {
    return this.options.consumer;
  }

  /**
   * Takes over every entry pending in `consumerName` at once (call it when
   * that consumer is known dead, e.g. its heartbeat vanished); they are
   * handled by this worker next. With `deleteConsumer`, the emptied consumer
   * is removed from the group (only safe when it is really gone: a live one
   * would lose what it reads in between). Returns the number claimed.
   */
  async claimFrom(consumerName: string, opts: { deleteConsumer?: boolean } = {}): Promise<number> {
    const { stream } = this.options;
    const total = await claimAllOf(this.#shared, this.options, consumerName, this.name, opts.deleteConsumer ?? false);
    if (total > 0) {
      this.#stats.claimed += total;
      this.#pendingDirty = true;
      this.options.logger.info({ stream, from: consumerName, claimed: total }, 'claimed pending entries');
    }
    return total;
  }

  /** Entries held by the handler (see {@link BatchResult}). */
  get held(): number {
    return this.#held.size;
  }

  /** Acks entries the handler held earlier (on the shared connection: works after {@link stop} too). */
  async ack(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    for (const id of ids) this.#held.delete(id);
    const { stream, group } = this.options;
    await this.#shared.run('XACK', (c) => c.sendCommand(['XACK', stream, group, ...ids]));
    this.#stats.acked += ids.length;
  }

  /** Gives held entries back: they are delivered again (and count towards the delivery limit). */
  release(ids: string[]): void {
    for (const id of ids) this.#held.delete(id);
    this.#pendingDirty = true;
  }

  /**
   * Stops reading, finishes (and acks) the batch in hand, then closes the
   * worker's connection. Entries not yet handled stay pending for others.
   */
  async stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#setHealth('stopping');
      this.#backoff.wake();
      if (this.#reading && this.#clientId !== undefined) {
        const id = String(this.#clientId);
        await this.#shared.run('CLIENT UNBLOCK', (c) => c.sendCommand(['CLIENT', 'UNBLOCK', id])).catch(() => 0);
      }
    }
    await this.#loop;
    clearInterval(this.#touchTimer);
    await this.#conn.close();
    this.#setHealth('stopped');
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      try {
        if (performance.now() >= this.#nextSweepAt) await this.#sweep(false);
        let batch: StreamEntry[];
        if (this.#pendingDirty) {
          const own = await this.#readOwnPending();
          if (own === null) {
            this.#pendingDirty = false;
            continue;
          }
          batch = own;
        } else {
          // The previous batch's XACK was sent without waiting; this read
          // follows it on the same connection, and its result is checked here.
          const acked = this.#ackInFlight;
          this.#ackInFlight = undefined;
          batch = await this.#readNew();
          await acked;
        }
        if (batch.length > 0) await this.#process(batch);
        this.#backoff.failures = 0;
        if (!this.#stopping) this.#setHealth('ready');
      } catch (err) {
        const e = toBusError(err, `consumer ${this.options.stream}/${this.options.group}`);
        this.#stats.loopErrors++;
        const failures = ++this.#backoff.failures;
        this.#pendingDirty = true;
        this.options.logger.error({ err: e.message, code: e.code, failures }, 'consumer loop step failed');
        if (e instanceof ReplyError && e.reply === 'NOGROUP') {
          // the group is gone (a failover to a replica that never had it, a deleted stream): create it again
          // from the start of the stream, so nothing still in it is skipped (the handler's store de-duplicates)
          this.options.logger.warn(
            { stream: this.options.stream, group: this.options.group },
            'group missing; re-creating it from 0',
          );
          await ensureGroup(this.#conn, { ...this.options, startId: '0' }).catch(() => undefined);
        }
        if (!this.#stopping) {
          this.#setHealth('degraded');
          await this.#backoff.sleep(failures);
        }
      }
    }
    await this.#ackInFlight?.catch((err: unknown) =>
      this.options.logger.error({ err: (err as Error).message }, 'final XACK failed; entries stay pending'),
    );
  }

  async #readNew(): Promise<StreamEntry[]> {
    const { stream, group, batchSize, blockMs } = this.options;
    this.#reading = true;
    let reply: unknown;
    try {
      reply = await this.#conn.run('XREADGROUP', (c) =>
        c.sendCommand(readGroupArgs(group, this.name, batchSize, stream, '>', blockMs)),
      );
    } finally {
      this.#reading = false;
    }
    return parseReadReply(reply, 1).entries;
  }

  /**
   * Our own pending entries (after a failure, a claim or a restart): those
   * at the delivery limit are dead-lettered, the rest delivered again.
   * Returns null when nothing is pending.
   */
  async #readOwnPending(): Promise<StreamEntry[] | null> {
    const { stream, group, batchSize, maxDeliveries } = this.options;
    const pend = await ownPendingPage(this.#conn, this.options, this.name, this.#held);
    if (pend === null) return null;
    const over = [...pend].filter(([, d]) => d >= maxDeliveries);
    if (over.length > 0) {
      await this.#deadLetter(
        over.map(([id, deliveries]) => ({
          id,
          deliveries,
          reason: `delivery limit ${maxDeliveries} reached: ${this.#lastError.get(id) ?? 'handler failed in an earlier delivery'}`,
        })),
      );
    }
    if (over.length === pend.size) return [];
    // A history read returns our pending entries with ids above the one given.
    const after = idBefore([...pend.keys()].find((id) => !over.some(([o]) => o === id)) as string);
    const reply = await this.#conn.run('XREADGROUP pending', (c) =>
      c.sendCommand(readGroupArgs(group, this.name, batchSize, stream, after)),
    );
    const { entries, deleted } = parseReadReply(reply, 1);
    if (deleted.length > 0) {
      // Trimmed from the stream while pending: nothing left to handle.
      await this.#ack(deleted);
      this.options.logger.warn({ stream, ids: deleted.length }, 'acked pending entries that were trimmed away');
    }
    const out = entries.filter((e) => !this.#held.has(e.id));
    for (const e of out) e.deliveries = (pend.get(e.id) ?? 1) + 1;
    return out;
  }

  async #process(batch: StreamEntry[]): Promise<void> {
    this.#stats.batches++;
    // Redelivered entries are handled one by one, so one bad entry cannot sink the others.
    if (batch.length > 1 && batch.some((e) => e.deliveries > 1)) {
      for (const e of batch) await this.#handle([e]);
    } else {
      await this.#handle(batch);
    }
  }

  async #handle(entries: StreamEntry[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let result: BatchResult;
      try {
        result = await this.#handler(entries);
      } catch (err) {
        this.#stats.handlerErrors++;
        const msg = err instanceof Error ? err.message : String(err);
        this.options.logger.error(
          { stream: this.options.stream, entries: entries.length, first: entries[0]?.id, err: msg },
          'batch handler failed',
        );
        if (err instanceof RetryableError && !this.#stopping) {
          await this.#backoff.sleep(attempt);
          continue;
        }
        for (const e of entries) this.#lastError.set(e.id, msg);
        // Entries claimed away by other consumers never settle here: keep the map bounded.
        for (const id of this.#lastError.keys()) {
          if (this.#lastError.size <= 10_000) break;
          this.#lastError.delete(id);
        }
        this.#pendingDirty = true;
        const failures = ++this.#backoff.handlerFailures;
        if (!this.#stopping) await this.#backoff.sleep(failures);
        return;
      }
      this.#backoff.handlerFailures = 0;
      await this.#settle(entries, result);
      return;
    }
  }

  async #settle(entries: StreamEntry[], result: BatchResult): Promise<void> {
    // Lookup tables only for what the handler named: a plain batch allocates none.
    const dead = result?.deadLetter?.length ? await this.#deadLetterOf(entries, result.deadLetter) : undefined;
    const hold = result?.hold?.length ? new Set(result.hold) : undefined;
    const ack: string[] = [];
    for (const e of entries) {
      if (hold?.has(e.id)) this.#held.add(e.id);
      else if (!dead?.has(e.id)) ack.push(e.id);
    }
    if (result?.ack?.length) {
      const inBatch = new Set(entries.map((e) => e.id));
      for (const id of result.ack) {
        if (hold?.has(id)) continue;
        this.#held.delete(id);
        if (!inBatch.has(id)) ack.push(id);
      }
    }
    if (ack.length > 0) {
      // Fresh batches ack in the background, pipelined with the next read; the rest wait.
      const p = this.#ack(ack);
      if (this.#pendingDirty || this.#ackInFlight) await p;
      else {
        p.catch(() => undefined);
        this.#ackInFlight = p;
      }
    }
    this.#stats.processed += entries.length;
    if (this.#lastError.size > 0) for (const e of entries) this.#lastError.delete(e.id);
  }

  /** Dead-letters the handler's `items` that belong to `entries`; returns their ids. */
  async #deadLetterOf(entries: StreamEntry[], items: { id: string; reason: string }[]): Promise<Set<string>> {
    const byId = new Map(entries.map((e) => [e.id, e]));
    const dead = items.filter((d) => byId.has(d.id));
    if (dead.length > 0) {
      await this.#deadLetter(dead.map((d) => ({ id: d.id, reason: d.reason, deliveries: byId.get(d.id)!.deliveries })));
    }
    return new Set(dead.map((d) => d.id));
  }

  async #ack(ids: string[]): Promise<void> {
    const { stream, group } = this.options;
    await this.#conn.run('XACK', (c) => c.sendCommand(['XACK', stream, group, ...ids]));
    this.#stats.acked += ids.length;
  }

  async #deadLetter(items: DeadLetterItem[]): Promise<void> {
    const { stream, deadLetterStream } = this.options;
    this.#stats.deadLettered += await moveToDeadLetter(this.#conn, this.options, items);
    for (const i of items) this.#lastError.delete(i.id);
    this.options.logger.warn(
      { stream, deadLetterStream, ids: items.map((i) => i.id), reason: items[0]?.reason },
      'entries moved to the dead-letter stream',
    );
  }

  /** Claims entries idle longer than claimIdleMs; `force` skips the election. */
  async #sweep(force: boolean): Promise<void> {
    const { stream, group, claimIntervalMs } = this.options;
    this.#nextSweepAt = performance.now() + claimIntervalMs;
    const total = await claimIdle(this.#conn, this.options, this.name, force);
    if (total > 0) {
      this.#stats.claimed += total;
      this.#pendingDirty = true;
      this.options.logger.info({ stream, group, claimed: total }, 'claimed idle entries of other consumers');
    }
  }

  #setHealth(state: ConsumerHealth): void {
    const prev = this.#health;
    if (prev === state) return;
    this.#health = state;
    this.emit('health', state, prev);
  }
}
