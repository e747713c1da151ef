import type { LiveState } from '../../bus/state.js';
import type { Outgoing, Publisher } from '../../bus/topics.js';
import { topicChannels } from '../../bus/topics.js';
import { FrameError } from '../../can/errors.js';
import { parseStreamFields } from '../../can/frame.js';
import type { FrameProcessor } from '../../cea/processor.js';
import type { CanMessageRow, ProcessorEntry, ReadingRow, SensorUpdate } from '../../cea/types.js';
import { isTransient } from '../../store/errors.js';
import type { Store } from '../../store/types.js';
import type { Logger } from '../../util/log.js';
import type { NodeRegistry } from '../common/nodes.js';

/** A stream entry as the consumer hands it over. */
export interface RawEntry {
  id: string;
  fields: Record<string, string>;
}

/** What the pipeline decided for a batch. */
export interface PipelineOutcome {
  /** Entries stored now (this batch's and earlier held ones): ack them. */
  ack: string[];
  /** Entries that cannot be parsed at all: dead-letter them with the reason. */
  deadLetter: { id: string; reason: string }[];
  /** Entries processed but not stored yet (the store is down): keep them pending. */
  hold: string[];
}

export interface PipelineOptions {
  /** @defaultValue `sensor:update` */
  updateChannel: string;
  /** @defaultValue 500000 — frames kept in memory while the store is down; beyond, reading pauses. */
  maxHeldFrames: number;
  /** @defaultValue 500 — first store probe delay after a failure; doubles up to 10 s. */
  storeRetryBaseMs: number;
}

export const PIPELINE_DEFAULTS: PipelineOptions = {
  updateChannel: 'sensor:update',
  maxHeldFrames: 500_000,
  storeRetryBaseMs: 500,
};

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
export class BacklogFullError extends Error {
  readonly code = 'WORKER_BACKLOG_FULL';
  constructor(held: number) {
    super(`store unavailable and ${held} frames held in memory; pausing reads until it returns`);
    this.name = 'BacklogFullError';
  }
}

/**
 * The worker's per-batch work, independent of how entries arrive: parse →
 * decode/calibrate/validate/derive → live keys and `sensor:update` (at once,
 * whatever the store does) → store (one transaction, idempotent by stream
 * id). When the store is down, processed batches are held in memory (their
 * entries stay pending in Redis) and written, oldest first, once a probe
 * succeeds; only then are they acked.
 */
export class WorkerPipeline {
  readonly options: PipelineOptions;
  readonly #processor: FrameProcessor;
  readonly #live: LiveState;
  readonly #publisher: Publisher;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #nodes: NodeRegistry | undefined;
  #held: Held[] = [];
  #heldFrames = 0;
  #storeDown = false;
  #retryAt = 0;
  #retryDelay = 0;
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

  constructor(
    deps: {
      processor: FrameProcessor;
      live: LiveState;
      publisher: Publisher;
      store: Store;
      logger: Logger;
      /** Records the CAN nodes seen (`identity:can-node:<n>`), with STATUS frames' firmware status. */
      nodes?: NodeRegistry;
    },
    options: Partial<PipelineOptions> = {},
  ) {
    this.options = { ...PIPELINE_DEFAULTS, ...options };
    this.#processor = deps.processor;
    this.#live = deps.live;
    this.#publisher = deps.publisher;
    this.#store = deps.store;
    this.#log = deps.logger;
    this.#nodes = deps.nodes;
  }

  get storeDown(): boolean {
    return this.#storeDown;
  }

  /** Ids processed but not yet stored. */
  heldIds(): string[] {
    return this.#held.flatMap((h) => h.ids);
  }

  /**
   * Handles one batch. `fresh` entries (first delivery) also update live
   * keys and publish; redelivered ones only go to the store (their values
   * are stale).
   */
  async handle(entries: RawEntry[], fresh: boolean): Promise<PipelineOutcome> {
    if (this.#heldFrames >= this.options.maxHeldFrames) {
      const ack = await this.flushHeld();
      if (this.#heldFrames >= this.options.maxHeldFrames) throw new BacklogFullError(this.#heldFrames);
      void ack;
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
    const r = this.#processor.process(good);
    this.stats.readings += r.readings.length;
    this.stats.rejected += r.rejected.length;
    if (fresh) {
      await this.#publishLive(r.readings, r.updates);
      await this.#recordNodes(r.messages);
    }
    if (good.length > 0) {
      this.#held.push({ ids: good.map((g) => g.streamId), messages: r.messages, readings: r.readings });
      this.#heldFrames += good.length;
    }
    const ack = await this.flushHeld();
    this.stats.held = this.#heldFrames;
    return { ack, deadLetter, hold: this.heldIds() };
  }

  /**
   * Writes held batches, oldest first, while the store takes them; returns
   * the ids stored. A transient store failure marks the store down and
   * schedules the next probe (exponential backoff up to 10 s).
   */
  async flushHeld(now = Date.now()): Promise<string[]> {
    const acked: string[] = [];
    if (this.#held.length === 0) return acked;
    if (this.#storeDown && now < this.#retryAt) return acked;
    while (this.#held.length > 0) {
      const h = this.#held[0] as Held;
      try {
        const res = await this.#store.writeBatch({ messages: h.messages, readings: h.readings });
        this.stats.stored += res.stored;
        this.stats.duplicates += res.duplicates;
      } catch (err) {
        this.stats.storeFailures++;
        if (!isTransient(err)) throw err;
        this.#retryDelay = Math.min(10_000, this.#retryDelay ? this.#retryDelay * 2 : this.options.storeRetryBaseMs);
        this.#retryAt = Date.now() + this.#retryDelay;
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
      for (const id of h.ids) acked.push(id);
      if (this.#storeDown) {
        this.#storeDown = false;
        this.#retryDelay = 0;
        this.#log.info({ held: this.#heldFrames }, 'store is back: writing held batches');
      }
    }
    this.stats.held = this.#heldFrames;
    return acked;
  }

  async #recordNodes(messages: CanMessageRow[]): Promise<void> {
    if (!this.#nodes) return;
    const last = new Map<number, CanMessageRow>();
    try {
      for (const m of messages) {
        if (m.nodeId === null) continue;
        if (m.messageType === 'STATUS' && m.decodedData) {
          const d = m.decodedData;
          await this.#nodes.status(m.nodeId, { uptime_s: Number(d.uptime_s), errors: Number(d.errors) }, m.timestamp);
        }
        last.set(m.nodeId, m);
      }
      for (const [node, m] of last) await this.#nodes.seen(node, `0x${m.canId.toString(16).toUpperCase()}`);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'could not record CAN nodes in the registry');
    }
  }

  async #publishLive(readings: ReadingRow[], updates: SensorUpdate[]): Promise<void> {
    if (readings.length === 0 && updates.length === 0) return;
    const latest = new Map<string, ReadingRow>();
    for (const r of readings) {
      const prev = latest.get(r.sensor);
      if (!prev || prev.time <= r.time) latest.set(r.sensor, r);
    }
    const out: Outgoing[] = [];
    for (const u of updates) {
      const message = {
        location: u.location,
        cluster: u.cluster,
        sensor_data: u.sensor_data,
        timestamp: new Date(u.timestamp).toISOString(),
      };
      for (const channel of topicChannels(this.options.updateChannel, [u.location, u.cluster])) {
        out.push({ channel, message });
      }
    }
    try {
      await this.#live.write([...latest.values()].map((r) => ({ name: r.sensor, value: r.value, tsMs: r.time })));
      await this.#publisher.publishMany(out);
      this.stats.updatesPublished += updates.length;
    } catch (err) {
      this.stats.liveFailures++;
      this.#log.warn({ err: (err as Error).message }, 'live keys / sensor:update failed');
    }
  }
}
