import { LagSampler } from './lag.js';
import { CAN_RAW, CAN_WORKER_GROUP, SENSOR_LIVE_PREFIX } from '../../contracts/names.js';
import os from 'node:os';
import { ConfigError } from '../../bus/errors.js';
import { OrphanClaimer } from '../../bus/presence-claim.js';
import { PresenceWatcher } from '../../bus/presence.js';
import { LiveState } from '../../bus/state.js';
import { StreamConsumer } from '../../bus/streams/consumer.js';
import { FrameProcessor } from '../../cea/processor.js';
import { pipelinePathsEnv } from '../../config/pipeline.js';
import { openStore } from '../../store/index.js';
import type { Store } from '../../store/types.js';
import type { StoreOptions } from '../../store/index.js';
import type { Logger } from '../../util/log.js';
import { NodeRegistry } from '../common/nodes.js';
import { startServiceRuntime } from '../common/runtime.js';
import type { ServiceHandle } from '../types.js';
import { WorkerPipeline, type PipelineStats } from './pipeline.js';
import { WorkerMetrics } from './metrics.js';

/** What `canopy worker` needs. */
export interface WorkerConfig {
  /** @defaultValue `process.env.REDIS_URL` or `redis://127.0.0.1:6379` */
  redisUrl?: string;
  /** @defaultValue `sqlite:$CANOPY_DATA_DIR/canopy.db` (`DATABASE_URL`) */
  databaseUrl: string;
  /** @defaultValue `can:raw` */
  stream: string;
  /** @defaultValue `can-worker` */
  group: string;
  /**
   * Consumer name and instance (`heartbeat:{name}`, `admin:{name}`), unique
   * per worker and stable across restarts so a restarted worker re-reads its
   * own pending entries at once; other workers claim the entries of one whose
   * heartbeat vanished. @defaultValue `worker-<hostname>-0`
   * ({@link workerConsumerName}; `CANOPY_WORKER_NAME`, or `CANOPY_WORKER_INSTANCE` for the last part)
   */
  consumer: string;
  /** @defaultValue 1000 — entries per XREADGROUP (and per store transaction). */
  batchSize: number;
  /** @defaultValue 1000 */
  blockMs: number;
  /** @defaultValue 10 — TTL of the live keys `sensor:<name>` and `sensor:<name>:ts`. */
  liveTtlSeconds: number;
  /** @defaultValue 5 — deliveries before an entry that keeps failing goes to `can:raw:dead`. */
  maxDeliveries: number;
  /** @defaultValue 60000 — entries idle this long in another consumer are claimed. */
  claimIdleMs: number;
  /**
   * @defaultValue 30 — seconds after which a worker that stopped (crash, kill -9, host down) has its pending
   * entries taken over by the other workers: the TTL of its heartbeat (`CANOPY_WORKER_HANDOFF_S`). Shorter
   * hands off sooner; a worker stalled longer than this loses its entries to the others (they are stored
   * once all the same: the store skips a stream id it has).
   */
  handoffSeconds: number;
  /** @defaultValue 100000 — frames held in memory while the store is down (about 340 bytes each); beyond, reading pauses (the stream keeps the rest). */
  maxHeldFrames: number;
  /**
   * @defaultValue `'FULL'` — SQLite: every batch commit is synced to disk before its stream entries are acked,
   * so a power cut never loses an acknowledged reading. `'NORMAL'` is faster but may lose the last commits
   * (their entries already acked) — see the README for the cost.
   */
  sqliteSynchronous: 'NORMAL' | 'FULL';
  /**
   * @defaultValue 200 — SQLite: how long a batch write waits for another process's write lock before the
   * store counts as unavailable and the batch is held and retried with back-off (the store waits without
   * blocking the event loop). Opening and migrating keep the store's own 5 s.
   */
  storeBusyTimeoutMs: number;
  /**
   * @defaultValue the store's own (`ingested_entries` 30 days, everything else kept) — the retention the
   * worker's store sweeps hourly when the worker opens it (`canopy worker` passes the configured one).
   */
  retention?: StoreOptions['retention'];
  logger: Logger;
  /** @defaultValue none — aborted when asked to stop while still starting: a connect being retried ends at once. */
  signal?: AbortSignal;
  /**
   * An already open store (tests): used as it is, and not closed by the worker. Otherwise the worker opens
   * one from `databaseUrl` with `sqliteSynchronous`, `storeBusyTimeoutMs` and `retention`, and closes it.
   */
  store?: Store;
  /** A processor with custom DBC/node map (tests); otherwise from `CANOPY_DBC`/`CANOPY_NODES`. */
  processor?: FrameProcessor;
}

export const WORKER_DEFAULTS: Omit<WorkerConfig, 'databaseUrl' | 'logger'> = {
  stream: CAN_RAW,
  group: CAN_WORKER_GROUP,
  consumer: workerConsumerName('0'),
  batchSize: 1000,
  blockMs: 1000,
  liveTtlSeconds: 10,
  maxDeliveries: 5,
  claimIdleMs: 60_000,
  handoffSeconds: 30,
  maxHeldFrames: 100_000,
  sqliteSynchronous: 'FULL',
  storeBusyTimeoutMs: 200,
};

/**
 * `worker-<hostname>-<instance>`: unique for every worker of a host (instance
 * 0, 1, … — systemd's `%i` of `canopy-worker@.service`, `canopy up --workers N`)
 * and the same after a restart, so the restarted worker finds its pending entries.
 */
export function workerConsumerName(instance: string, host: string = os.hostname()): string {
  return `worker-${host}-${instance}`;
}

export interface WorkerHandle extends ServiceHandle {
  readonly consumer: StreamConsumer;
  stats(): PipelineStats;
}

/**
 * The worker: consumer group `can-worker` on `can:raw`; every batch is
 * decoded, calibrated, validated and derived, written to the live keys and
 * `sensor:update` at once, then stored in one transaction (idempotent by
 * stream id) and acked only after the commit. Store down: batches are held
 * and their entries stay pending; live values keep flowing.
 */
export async function start(
  cfg: Partial<WorkerConfig> & Pick<WorkerConfig, 'databaseUrl' | 'logger'>,
): Promise<WorkerHandle> {
  const c: WorkerConfig = { ...WORKER_DEFAULTS, ...stripUndefined(cfg) } as WorkerConfig;
  if (!(c.handoffSeconds >= 1)) throw new ConfigError(`handoffSeconds must be >= 1, got ${c.handoffSeconds}`);
  const log = c.logger;
  const stats = { current: undefined as undefined | (() => PipelineStats), lag: undefined as LagSampler | undefined };
  const runtime = await startServiceRuntime({
    service: 'worker',
    instance: c.consumer,
    log,
    heartbeat: { ttlSeconds: c.handoffSeconds },
    signal: c.signal,
    connection: { clientName: 'canopy-worker', ...(c.redisUrl ? { url: c.redisUrl } : {}) },
    counters: () => ({ ...(stats.current?.() ?? {}), ...stats.lag?.last }),
  });
  const conn = runtime.conn;
  const store =
    c.store ??
    (await openStore(c.databaseUrl, {
      sqliteSynchronous: c.sqliteSynchronous,
      writeBusyTimeoutMs: c.storeBusyTimeoutMs,
      ...(c.retention ? { retention: c.retention } : {}),
    }));
  const ownsStore = !c.store;
  try {
    await store.migrate();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'store not reachable at start; batches are held until it is');
  }
  const processor = c.processor ?? new FrameProcessor({}, pipelinePathsEnv());
  const ref: { consumer?: StreamConsumer } = {};
  const pipeline = new WorkerPipeline(
    {
      processor,
      live: new LiveState(conn, { prefix: SENSOR_LIVE_PREFIX, ttlSeconds: c.liveTtlSeconds }),
      publisher: runtime.publisher,
      store,
      logger: log,
      nodes: new NodeRegistry(runtime.registry),
      ack: (ids) => ref.consumer?.ack(ids) ?? Promise.resolve(),
      release: (ids) => ref.consumer?.release(ids),
    },
    { maxHeldFrames: c.maxHeldFrames },
  );
  stats.current = () => ({ ...pipeline.stats });
  const metrics = new WorkerMetrics(conn, () => ({ ...pipeline.stats }), processor);
  // a start that fails after the store was opened closes what it opened (the process may go on: canopy group)
  const failed = async (err: unknown): Promise<never> => {
    if (ownsStore) await store.close().catch(() => undefined);
    await runtime.close().catch(() => undefined);
    throw err;
  };
  let consumer!: StreamConsumer;
  let watcher!: PresenceWatcher;
  let claimer!: OrphanClaimer;
  try {
    consumer = await StreamConsumer.start(
      conn,
      async (entries) => {
        while (runtime.paused) await new Promise((r) => setTimeout(r, 200));
        const fresh = entries.every((e) => e.deliveries <= 1);
        const out = await pipeline.handle(entries, fresh);
        return { deadLetter: out.deadLetter, hold: out.hold };
      },
      {
        stream: c.stream,
        group: c.group,
        consumer: c.consumer,
        batchSize: c.batchSize,
        blockMs: c.blockMs,
        maxDeliveries: c.maxDeliveries,
        claimIdleMs: c.claimIdleMs,
        logger: log,
      },
    );
    ref.consumer = consumer;
    // A worker whose heartbeat vanished has its pending entries claimed at once.
    watcher = new PresenceWatcher(conn, { logger: log });
    claimer = new OrphanClaimer(conn, watcher, {
      stream: c.stream,
      group: c.group,
      consumer: c.consumer,
      sweepMinIdleMs: c.handoffSeconds * 1000,
      logger: log,
      claim: (from) => consumer.claimFrom(from, { deleteConsumer: true }),
    });
    await watcher.start();
  } catch (err) {
    await ref.consumer?.stop().catch(() => undefined);
    return failed(err);
  }
  // While the store is down and nothing new arrives, keep probing it.
  const flusher = setInterval(() => {
    if (!pipeline.storeDown) return;
    pipeline.kick().catch((err: unknown) => log.error({ err: (err as Error).message }, 'flushing held batches failed'));
  }, 500);
  flusher.unref();
  metrics.start();
  stats.lag = new LagSampler(conn, c.stream, c.group, log);
  log.info({ stream: c.stream, group: c.group, consumer: c.consumer, store: store.kind }, 'worker started');
  return {
    consumer,
    stats: () => ({ ...pipeline.stats }),
    async stop() {
      runtime.beginStop(); // without Redis, nothing below waits for it
      clearInterval(flusher);
      stats.lag?.close();
      await claimer.close();
      await watcher.close();
      await consumer.stop();
      await pipeline
        .close()
        .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'final store write failed'));
      await metrics.stop();
      if (ownsStore) await store.close();
      await runtime.close();
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
