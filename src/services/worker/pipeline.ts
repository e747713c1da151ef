import { SENSOR_UPDATE } from '../../contracts/names.js';
import type { LiveState } from '../../bus/state.js';
import type { Publisher } from '../../bus/topics.js';
import { FrameError } from '../../can/errors.js';
import { parseStreamFields } from '../../can/frame.js';
import type { FrameProcessor } from '../../cea/processor.js';
import type { CanMessageRow, ProcessorEntry, ReadingGroup, ReadingRow } from '../../cea/types.js';
import type { SensorUpdate } from '../../contracts/updates.js';
import { isTransient } from '../../store/errors.js';
import type { Store } from '../../store/types.js';
import { RetryableError } from '../../bus/errors.js';
import type { Logger } from '../../util/log.js';
import type { NodeRegistry } from '../common/nodes.js';

/** A stream entry as the consumer hands it over. */
export interface RawEntry {
  id: string;
  fields: Record<string, string>;
}

/** What the pipeline decided for a batch. */
export interface PipelineOutcome {
  /** Entries that cannot be parsed at all: dead-letter them with the reason. */
  deadLetter: { id: string; reason: string }[];
  /** Entries processed and queued for the store: keep them pending; {@link PipelineDeps.ack} acks them once stored. */
  hold: string[];
}

export interface PipelineOptions {
  /** @defaultValue `sensor:update` */
  updateChannel: string;
  /**
   * @defaultValue 4000 — processed frames waiting for the store beyond which
   * {@link WorkerPipeline.handle} waits for the writer (while the store is up):
   * reading and processing the next batch overlap the store write of this one.
   */
  maxInFlightFrames: number;
  /** @defaultValue 100000 — frames kept in memory while the store is down; beyond, reading pauses. */
  maxHeldFrames: number;
  /** @defaultValue 500 — first store probe delay after a failure; doubles up to 10 s. */
  storeRetryBaseMs: number;
  /**
   * @defaultValue 20 — how long a batch waits for more before the writer
   * commits, when the writer is idle: at low rates (one frame per read)
   * this turns a commit (and its fsync) per frame into one per interval,
   * which keeps the event loop free for `sensor:update`. Beyond
   * {@link maxInFlightFrames} or while the writer runs, nothing waits.
   */
  commitDelayMs: number;
  /** @defaultValue 10000 — queued batches are merged into one transaction up to this many frames. */
  maxFramesPerCommit: number;
}

export const PIPELINE_DEFAULTS: PipelineOptions = {
  updateChannel: SENSOR_UPDATE,
  maxInFlightFrames: 4000,
  maxHeldFrames: 100_000,
  storeRetryBaseMs: 500,
  commitDelayMs: 20,
  maxFramesPerCommit: 10_000,
};

export interface PipelineDeps {
  processor: FrameProcessor;
  live: LiveState;
  publisher: Publisher;
  store: Store;
  logger: Logger;
  /** Acks entries once their batch is committed. */
  ack: (ids: string[]) => Promise<void>;
  /** Gives entries back for redelivery (a batch the store refused for good). */
  release: (ids: string[]) => void;
  /** Records the CAN nodes seen (`identity:can-node:<n>`), with STATUS frames' firmware status. */
  nodes?: NodeRegistry;
}

export interface PipelineStats {
  frames: number;
  stored: number;
  duplicates: number;
  deadLettered: number;
  readings: number;
  rejected: number;
  held: number;
  storeFailures: number;
  liveFailures: number;
  updatesPublished: number;
}

interface Held {
  ids: string[];
  messages: CanMessageRow[];
  readings: ReadingRow[];
}

/** Raised when too much is held in memory: the consumer retries later (reading pauses). */
export class BacklogFullError extends RetryableError {
  constructor(held: number) {
    super(`store unavailable and ${held} frames held in memory; pausing reads until it returns`);
    this.name = 'BacklogFullError';
  }
}

/**
 * The worker's per-batch work, independent of how entries arrive: parse →
 * decode/calibrate/validate/derive → live keys and `sensor:update` (at once,
 * whatever the store does) → queued for the store. A background writer
 * commits queued batches in order (one transaction each, idempotent by
 * stream id) and acks their entries after the commit, so reading the next
 * batch overlaps writing this one. When the store is down, batches stay
 * queued (their entries pending in Redis) and are written, oldest first,
 * once a probe succeeds.
 */
export class WorkerPipeline {
  readonly options: PipelineOptions;
  readonly #d: PipelineDeps;
  readonly #log: Logger;
  #held: Held[] = [];
  #heldFrames = 0;
  #storeDown = false;
  #retryAt = 0;
  #retryDelay = 0;
  #drain: Promise<void> | undefined;
  #commitTimer: NodeJS.Timeout | undefined;
  readonly stats: PipelineStats = {
    frames: 0,
    stored: 0,
    duplicates: 0,
    deadLettered: 0,
    readings: 0,
    rejected: 0,
    held: 0,
    storeFailures: 0,
    liveFailures: 0,
    updatesPublished: 0,
  };

  constructor(deps: PipelineDeps, options: Partial<PipelineOptions> = {}) {
    this.options = { ...PIPELINE_DEFAULTS, ...options };
    this.#d = deps;
    this.#log = deps.logger;
  }

  get storeDown(): boolean {
    return this.#storeDown;
  }

  /**
   * Handles one batch. `fresh` entries (first delivery) also update live
   * keys and publish; redelivered ones only go to the store (their values
   * are stale).
   */
  async handle(entries: RawEntry[], fresh: boolean): Promise<PipelineOutcome> {
    if (this.#heldFrames >= this.options.maxHeldFrames) {
      await this.kick();
      if (this.#heldFrames >= this.options.maxHeldFrames) throw new BacklogFullError(this.#heldFrames);
    }
    const deadLetter: { id: string; reason: string }[] = [];
    const good: ProcessorEntry[] = [];
    for (const e of entries) {
      const frame = parseStreamFields(e.fields);
      if (frame instanceof FrameError) deadLetter.push({ id: e.id, reason: `${frame.code}: ${frame.message}` });
      else good.push({ streamId: e.id, frame });
    }
    this.stats.frames += entries.length;
    this.stats.deadLettered += deadLetter.length;
    const r = this.#d.processor.process(good);
    this.stats.readings += r.readings.length;
    this.stats.rejected += r.rejected.length;
    if (fresh) {
      await this.#publishLive(r.readings, r.updates);
      await this.#recordNodes(r.messages);
    }
    const hold = good.map((g) => g.streamId);
    if (good.length > 0) {
      this.#held.push({ ids: hold, messages: r.messages, readings: r.readings });
      this.#heldFrames += good.length;
      this.stats.held = this.#heldFrames;
    }
    if (!this.#storeDown && this.#heldFrames > this.options.maxInFlightFrames) await this.kick();
    else this.#kickSoon();
    return { deadLetter, hold };
  }

  /** Starts the writer after {@link PipelineOptions.commitDelayMs}, so batches arriving meanwhile share its transaction. */
  #kickSoon(): void {
    if (this.#drain || this.#commitTimer) return;
    const start = () =>
      this.kick().catch((err: unknown) => this.#log.error({ err: (err as Error).message }, 'store writer failed'));
    if (this.options.commitDelayMs <= 0) {
      void start();
      return;
    }
    this.#commitTimer = setTimeout(() => {
      this.#commitTimer = undefined;
      void start();
    }, this.options.commitDelayMs);
  }

  /** Starts the background writer unless it runs (e.g. to probe a store that was down); resolves when it stops. */
  kick(): Promise<void> {
    clearTimeout(this.#commitTimer);
    this.#commitTimer = undefined;
    if (!this.#drain) {
      const d = this.flush()
        .then(() => undefined)
        .finally(() => {
          if (this.#drain === d) this.#drain = undefined;
        });
      this.#drain = d;
    }
    return this.#drain;
  }

  /**
   * Writes queued batches, oldest first, while the store takes them, acking
   * each after its commit; returns the frames stored. A transient store
   * failure marks the store down and schedules the next probe (exponential
   * backoff up to 10 s); `force` probes at once.
   */
  private async flush(force = false): Promise<number> {
    let stored = 0;
    if (this.#storeDown && !force && performance.now() < this.#retryAt) return stored;
    while (this.#held.length > 0) {
      const h = this.#merge();
      try {
        const res = await this.#d.store.writeBatch({ messages: h.messages, readings: h.readings });
        this.stats.stored += res.stored;
        this.stats.duplicates += res.duplicates;
      } catch (err) {
        this.stats.storeFailures++;
        if (!isTransient(err)) {
          this.#held.shift();
          this.#heldFrames -= h.ids.length;
          this.#d.release(h.ids);
          this.#log.error(
            { err: (err as Error).message, frames: h.ids.length },
            'store refused a batch; redelivering it',
          );
          continue;
        }
        this.#retryDelay = Math.min(10_000, this.#retryDelay ? this.#retryDelay * 2 : this.options.storeRetryBaseMs);
        this.#retryAt = performance.now() + this.#retryDelay;
        if (!this.#storeDown) {
          this.#log.error(
            { err: (err as Error).message, held: this.#heldFrames },
            'store unavailable: holding batches (entries stay pending in the stream)',
          );
        }
        this.#storeDown = true;
        break;
      }
      this.#held.shift();
      this.#heldFrames -= h.ids.length;
      stored += h.ids.length;
      await this.#d.ack(h.ids).catch((err: unknown) => {
        // Stored but not acked: a redelivery is skipped by the store as a duplicate.
        this.#log.warn({ err: (err as Error).message, frames: h.ids.length }, 'XACK after commit failed');
      });
      if (this.#storeDown) {
        this.#storeDown = false;
        this.#retryDelay = 0;
        this.#log.info({ held: this.#heldFrames }, 'store is back: writing held batches');
      }
    }
    this.stats.held = this.#heldFrames;
    return stored;
  }

  /**
   * Merges the oldest queued batches (up to {@link PipelineOptions.maxFramesPerCommit}
   * frames) into the first one, so they share one transaction and one XACK.
   */
  #merge(): Held {
    const first = this.#held[0] as Held;
    let n = 1;
    let frames = first.ids.length;
    while (n < this.#held.length && frames + (this.#held[n] as Held).ids.length <= this.options.maxFramesPerCommit) {
      frames += (this.#held[n] as Held).ids.length;
      n++;
    }
    if (n === 1) return first;
    const parts = this.#held.slice(0, n);
    const merged: Held = {
      ids: parts.flatMap((p) => p.ids),
      messages: parts.flatMap((p) => p.messages),
      readings: parts.flatMap((p) => p.readings),
    };
    this.#held.splice(0, n, merged);
    return merged;
  }

  /** Waits for the background writer, then writes whatever is still queued (at stop). */
  async close(): Promise<void> {
    clearTimeout(this.#commitTimer);
    this.#commitTimer = undefined;
    await this.#drain;
    if (this.#held.length > 0 && !this.#storeDown) await this.flush(true);
  }

  async #recordNodes(messages: CanMessageRow[]): Promise<void> {
    if (!this.#d.nodes) return;
    const last = new Map<number, CanMessageRow>();
    try {
      for (const m of messages) {
        if (m.nodeId === null) continue;
        if (m.messageType === 'STATUS' && m.decodedData) {
          const d = m.decodedData;
          await this.#d.nodes.status(m.nodeId, { uptime_s: Number(d.uptime_s), errors: Number(d.errors) }, m.timestamp);
        }
        last.set(m.nodeId, m);
      }
      for (const [node, m] of last) await this.#d.nodes.seen(node, `0x${m.canId.toString(16).toUpperCase()}`);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'could not record CAN nodes in the registry');
    }
  }

  async #publishLive(readings: ReadingRow[], updates: ReadingGroup[]): Promise<void> {
    if (readings.length === 0 && updates.length === 0) return;
    const latest = new Map<string, ReadingRow>();
    for (const r of readings) {
      const prev = latest.get(r.sensor);
      if (!prev || prev.time <= r.time) latest.set(r.sensor, r);
    }
    const topics = updates.map((u) => ({
      base: this.options.updateChannel,
      segments: [u.location, u.cluster],
      message: {
        location: u.location,
        cluster: u.cluster,
        sensor_data: u.sensor_data,
        timestamp: new Date(u.timestamp).toISOString(),
      } satisfies SensorUpdate,
    }));
    try {
      // one round trip: both are sent before either reply is awaited
      await Promise.all([
        this.#d.live.write([...latest.values()].map((r) => ({ name: r.sensor, value: r.value, tsMs: r.time }))),
        this.#d.publisher.publishTopics(topics),
      ]);
      this.stats.updatesPublished += updates.length;
    } catch (err) {
      this.stats.liveFailures++;
      this.#log.warn({ err: (err as Error).message }, 'live keys / sensor:update failed');
    }
  }
}
