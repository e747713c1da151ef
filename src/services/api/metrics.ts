import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Connection } from '../../bus/connection.js';
import type { ReadStatus } from '../../store/types.js';
import { StoreReadMetrics } from './store-metrics.js';
import type { UpdateFeed } from './updates.js';
import type { WsHub } from './ws-hub.js';

export interface MetricsDeps {
  conn: Connection;
  hub: WsHub;
  feed: UpdateFeed | undefined;
  rawStream: string;
  workerGroup: string;
  /** The hash the worker adds its counters to (HINCRBY): frames, stored, rejected_<reason>, … */
  workerStatsKey: string;
  /** The store's read side (replica lag, fallbacks); undefined: no store, or one that does not tell. */
  readStatus?: () => Promise<ReadStatus | undefined>;
}

/** One consumer group as XINFO GROUPS reports it. */
export interface GroupInfo {
  name: string;
  pending: number;
  /** null when Redis cannot tell (entries deleted past the group's position). */
  lag: number | null;
}

/** XINFO GROUPS of a stream; [] when the stream does not exist. */
export async function streamGroups(conn: Connection, stream: string): Promise<GroupInfo[]> {
  let reply: unknown;
  try {
    reply = await conn.run('XINFO GROUPS', (c) => c.sendCommand(['XINFO', 'GROUPS', stream]));
  } catch (err) {
    if (/no such key/i.test((err as Error).message)) return [];
    throw err;
  }
  if (!Array.isArray(reply)) return [];
  return reply.map((g: unknown) => {
    const o = toRecord(g);
    const lag = o.lag;
    return {
      name: String(o.name),
      pending: Number(o.pending ?? 0),
      lag: lag === null || lag === undefined ? null : Number(lag),
    };
  });
}

function toRecord(g: unknown): Record<string, unknown> {
  if (g instanceof Map) return Object.fromEntries([...g].map(([k, v]) => [String(k), v]));
  if (Array.isArray(g)) {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < g.length; i += 2) o[String(g[i])] = g[i + 1];
    return o;
  }
  return (g ?? {}) as Record<string, unknown>;
}

/**
 * The API's Prometheus registry (one per app, no global state): request
 * rate and latency per route, WebSocket fan-out, updates received, the
 * lag of the worker's consumer group on the raw stream, and the store's
 * read side (store-metrics.ts).
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #duration: Histogram<'method' | 'route'>;
  readonly #refused: Counter<'reason'>;
  /** The worker's counters of the scrape in progress. */
  #workerStats: { p: Promise<Record<string, number>> } | undefined;
  readonly #storeReads: StoreReadMetrics;

  constructor(deps: MetricsDeps) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'canopy_api_' });
    this.#requests = new Counter({
      name: 'canopy_api_http_requests_total',
      help: 'HTTP requests answered, by method, route and status code',
      labelNames: ['method', 'route', 'status'],
      registers: [r],
    });
    this.#duration = new Histogram({
      name: 'canopy_api_http_request_duration_seconds',
      help: 'HTTP request latency by method and route',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [r],
    });
    this.#refused = new Counter({
      name: 'canopy_api_refused_total',
      help: 'Requests and connections refused (or exports cut), by reason (code)',
      labelNames: ['reason'],
      registers: [r],
    });
    const { hub, feed, conn } = deps;
    this.#storeReads = new StoreReadMetrics(r, deps.readStatus ?? (() => Promise.resolve(undefined)));
    new Counter({
      name: 'canopy_api_ws_rejected_total',
      help: 'WebSocket clients closed or messages refused, by reason',
      labelNames: ['reason'],
      registers: [r],
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(hub.stats.rejected)) this.inc({ reason }, n);
      },
    });
    new Gauge({
      name: 'canopy_api_ws_clients',
      help: 'Connected WebSocket clients',
      registers: [r],
      collect() {
        this.set(hub.stats.clients);
      },
    });
    const counterFrom = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers: [r],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counterFrom('canopy_api_ws_messages_sent_total', 'WebSocket messages written', () => hub.stats.sent);
    counterFrom(
      'canopy_api_ws_coalesced_total',
      'Updates merged into a lagging WebSocket client queue',
      () => hub.stats.coalesced,
    );
    counterFrom(
      'canopy_api_ws_dropped_total',
      'Queue entries dropped for lagging WebSocket clients',
      () => hub.stats.dropped,
    );
    counterFrom(
      'canopy_api_sensor_updates_total',
      'sensor:update messages received',
      () => feed?.stats.sensorUpdates ?? 0,
    );
    counterFrom(
      'canopy_api_device_updates_total',
      'device:update messages received',
      () => feed?.stats.deviceUpdates ?? 0,
    );
    counterFrom(
      'canopy_api_malformed_updates_total',
      'Malformed sensor:update/device:update messages ignored',
      () => feed?.stats.malformed ?? 0,
    );
    // the worker's counters, read once per scrape (every metric below shares the HGETALL)
    const workerStats = () => {
      if (!this.#workerStats) {
        this.#workerStats = {
          p: conn.isReady
            ? conn
                .run('HGETALL worker stats', (c) => c.hGetAll(deps.workerStatsKey))
                .then((h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)])))
                .catch(() => ({}))
            : Promise.resolve({}),
        };
      }
      return this.#workerStats.p;
    };
    const fromWorker = (name: string, help: string, field: string) =>
      new Counter({
        name,
        help,
        registers: [r],
        async collect() {
          const s = await workerStats();
          this.reset();
          if (Number.isFinite(s[field])) this.inc(s[field] as number);
        },
      });
    fromWorker('canopy_worker_frames_total', 'Raw frames the workers read from the stream', 'frames');
    fromWorker('canopy_worker_frames_stored_total', 'Frames stored (and acked) by the workers', 'stored');
    fromWorker('canopy_worker_duplicates_total', 'Frames already stored (redeliveries), skipped', 'duplicates');
    fromWorker('canopy_worker_dead_lettered_total', 'Frames moved to the dead-letter stream', 'dead_lettered');
    fromWorker('canopy_worker_readings_total', 'Sensor readings accepted', 'readings');
    fromWorker('canopy_worker_store_failures_total', 'Failed store writes (retried)', 'store_failures');
    new Counter({
      name: 'canopy_worker_rejections_total',
      help: 'Readings or frames rejected by the worker, by reason',
      labelNames: ['reason'],
      registers: [r],
      async collect() {
        const s = await workerStats();
        this.reset();
        for (const [k, v] of Object.entries(s)) {
          if (k.startsWith('rejected_') && Number.isFinite(v)) this.inc({ reason: k.slice('rejected_'.length) }, v);
        }
      },
    });
    const labels = { stream: deps.rawStream, group: deps.workerGroup };
    new Gauge({
      name: 'canopy_stream_lag',
      help: 'Entries of the stream not yet delivered to the consumer group (XINFO GROUPS lag)',
      labelNames: ['stream', 'group'],
      registers: [r],
      async collect() {
        this.reset();
        if (!conn.isReady) return;
        const g = (await streamGroups(conn, deps.rawStream)).find((x) => x.name === deps.workerGroup);
        if (g?.lag !== null && g?.lag !== undefined) this.set(labels, g.lag);
      },
    });
    new Gauge({
      name: 'canopy_stream_pending',
      help: 'Entries delivered to the consumer group but not yet acknowledged (stored)',
      labelNames: ['stream', 'group'],
      registers: [r],
      async collect() {
        this.reset();
        if (!conn.isReady) return;
        const g = (await streamGroups(conn, deps.rawStream)).find((x) => x.name === deps.workerGroup);
        if (g) this.set(labels, g.pending);
      },
    });
    new Gauge({
      name: 'canopy_stream_length',
      help: 'Entries in the raw stream (XLEN)',
      labelNames: ['stream'],
      registers: [r],
      async collect() {
        this.reset();
        if (!conn.isReady) return;
        this.set({ stream: deps.rawStream }, await conn.run('XLEN', (c) => c.xLen(deps.rawStream)));
      },
    });
  }

  /** Counts one refusal (a stable code such as `API_HOST_NOT_ALLOWED`). */
  refused(reason: string): void {
    this.#refused.inc({ reason });
  }

  /** Refusals so far by reason (the hostile-client suite reads them). */
  async refusals(): Promise<Record<string, number>> {
    const m = await this.#refused.get();
    return Object.fromEntries(m.values.map((v) => [String(v.labels.reason), v.value]));
  }

  /** Counts and times every request under its route pattern (not its URL: bounded labels). */
  install(app: FastifyInstance): void {
    app.addHook('onResponse', async (req, reply) => {
      const route = req.routeOptions.url ?? 'unmatched';
      const method = req.method;
      this.#requests.inc({ method, route, status: String(reply.statusCode) });
      this.#duration.observe({ method, route }, reply.elapsedTime / 1000);
    });
  }

  async metrics(): Promise<string> {
    this.#workerStats = undefined;
    this.#storeReads.reset();
    try {
      return await this.registry.metrics();
    } finally {
      this.#workerStats = undefined;
      this.#storeReads.reset();
    }
  }
}
