import { EventEmitter } from 'node:events';
import os from 'node:os';
import type { Connection } from './connection.js';
import type { RedisTopologyInfo } from './connection-types.js';
import { ClosedError, ConfigError, ConnectionError } from './errors.js';
import type { FabricFiles } from './fallback/records.js';
import type { BusLogger } from './log.js';
import { silentLogger } from './log.js';

/** What a heartbeat says about its process. Extra fields are live counters. */
export interface HeartbeatInfo {
  service: string;
  instance: string;
  pid: number;
  host: string;
  version: string;
  /** ISO-8601 UTC. */
  started_at: string;
  /** ISO-8601 UTC of this beat. */
  updated_at: string;
  /** Where the process's Redis connection is and how often it moved (Sentinel failovers). */
  redis?: RedisTopologyInfo;
  [counter: string]: unknown;
}

/** How a process announces itself. */
export interface HeartbeatOptions {
  /** The service name, e.g. `worker`. Required. */
  service: string;
  /** @defaultValue `<host>:<service>:<pid>` */
  instance: string;
  /** @defaultValue 30 — TTL of `heartbeat:{instance}`, seconds. */
  ttlSeconds: number;
  /** @defaultValue ttlSeconds × 1000 / 3 (derived): two beats may be missed before the key expires. */
  intervalMs: number;
  /** @defaultValue `unknown` */
  version: string;
  /** @defaultValue `heartbeat:` */
  prefix: string;
  /** @defaultValue none — live counters merged into every beat (must be JSON-serialisable). */
  counters: () => Record<string, unknown>;
  /** @defaultValue true — delete the key on {@link Heartbeat.close} so readers see the clean exit at once. */
  deleteOnClose: boolean;
  /** @defaultValue silent */
  logger: BusLogger;
  /**
   * @defaultValue none — where beats go while Redis is unreachable (or always, with
   * `useRedis: false`): `heartbeats/<instance>.json` with an `expires_at`.
   */
  files: FabricFiles | undefined;
  /** @defaultValue true — `false` beats to `files` only. */
  useRedis: boolean;
}

export const HEARTBEAT_DEFAULTS = {
  ttlSeconds: 30,
  version: 'unknown',
  prefix: 'heartbeat:',
  counters: () => ({}),
  deleteOnClose: true,
  logger: silentLogger,
  files: undefined,
  useRedis: true,
} satisfies Partial<HeartbeatOptions>;

/** The default instance name of this process for a service. */
export function defaultInstance(service: string): string {
  return `${os.hostname()}:${service}:${process.pid}`;
}

/** Spreads defaults, derives the instance and the interval, validates. */
export function resolveHeartbeatOptions(
  opts: Partial<HeartbeatOptions> & Pick<HeartbeatOptions, 'service'>,
): HeartbeatOptions {
  const base = { ...HEARTBEAT_DEFAULTS, ...stripUndefined(opts) };
  const o: HeartbeatOptions = {
    instance: defaultInstance(opts.service),
    intervalMs: (base.ttlSeconds * 1000) / 3,
    ...base,
  } as HeartbeatOptions;
  if (!o.service) throw new ConfigError('service must not be empty');
  if (!o.useRedis && !o.files) throw new ConfigError('useRedis: false needs files to beat to');
  if (!(o.ttlSeconds > 0)) throw new ConfigError(`ttlSeconds must be > 0, got ${o.ttlSeconds}`);
  if (!(o.intervalMs > 0) || o.intervalMs >= o.ttlSeconds * 1000) {
    throw new ConfigError(`intervalMs must be > 0 and below the TTL (${o.ttlSeconds * 1000} ms), got ${o.intervalMs}`);
  }
  return o;
}

/**
 * Writes `heartbeat:{instance}` (JSON, with a TTL) now and every
 * `intervalMs`. A failed beat is counted and logged; the next one retries.
 */
export class Heartbeat {
  readonly options: HeartbeatOptions;
  readonly startedAt = new Date().toISOString();
  readonly #conn: Connection;
  #timer: NodeJS.Timeout | undefined;
  #beats = 0;
  #fileBeats = 0;
  #failures = 0;
  #closed = false;
  /** The last beat went to the file (removed again by the next Redis beat). */
  #onFile = false;

  private constructor(conn: Connection, o: HeartbeatOptions) {
    this.#conn = conn;
    this.options = o;
  }

  /** Writes the first beat (failing if neither Redis nor the files take it) and starts the timer. */
  static async start(
    conn: Connection,
    opts: Partial<HeartbeatOptions> & Pick<HeartbeatOptions, 'service'>,
  ): Promise<Heartbeat> {
    const hb = new Heartbeat(conn, resolveHeartbeatOptions(opts));
    await hb.beat();
    hb.#timer = setInterval(() => {
      hb.beat().catch(() => undefined);
    }, hb.options.intervalMs);
    hb.#timer.unref();
    return hb;
  }

  get instance(): string {
    return this.options.instance;
  }

  get key(): string {
    return `${this.options.prefix}${this.options.instance}`;
  }

  /** `beats` counts both kinds; `fileBeats` those written to the fallback files. */
  get stats(): { beats: number; fileBeats: number; failures: number } {
    return { beats: this.#beats, fileBeats: this.#fileBeats, failures: this.#failures };
  }

  /** The value the next beat writes. */
  info(): HeartbeatInfo {
    const o = this.options;
    return {
      ...o.counters(),
      // where this process's Redis connection is and how often it moved (Sentinel failovers)
      redis: this.#conn.topology,
      service: o.service,
      instance: o.instance,
      pid: process.pid,
      host: os.hostname(),
      version: o.version,
      started_at: this.startedAt,
      updated_at: new Date().toISOString(),
    };
  }

  /**
   * One beat now: to Redis when it is reachable, else (with `files`) to
   * the heartbeat file; the first Redis beat after an outage removes the file.
   */
  async beat(): Promise<void> {
    if (this.#closed) return;
    const o = this.options;
    const info = this.info();
    const ttlMs = Math.round(o.ttlSeconds * 1000);
    let redisErr: unknown;
    // Without files the SET is tried even while reconnecting (it waits in the offline queue).
    if (o.useRedis && (this.#conn.isReady || !o.files)) {
      try {
        await this.#conn.run(`SET ${this.key}`, (c) =>
          c.set(this.key, JSON.stringify(info), { expiration: { type: 'PX', value: ttlMs } }),
        );
        this.#beats++;
        if (this.#onFile && o.files) {
          await o.files.removeHeartbeat(o.instance).catch(() => undefined);
          this.#onFile = false;
          o.logger.info({ instance: o.instance }, 'heartbeat back on Redis');
        }
        return;
      } catch (err) {
        redisErr = err;
      }
    }
    try {
      // only an outage falls back; a refusal (NOPERM, a bad reply) is a failure
      const outage = redisErr === undefined || redisErr instanceof ConnectionError || redisErr instanceof ClosedError;
      if (!o.files || !outage) throw redisErr;
      await o.files.writeHeartbeat(info, ttlMs);
      if (!this.#onFile && o.useRedis)
        o.logger.warn({ instance: o.instance, dir: o.files.dir }, 'Redis unreachable: heartbeat written to a file');
      this.#onFile = true;
      this.#beats++;
      this.#fileBeats++;
    } catch (err) {
      this.#failures++;
      o.logger.warn({ instance: this.instance, err: (err as Error).message }, 'heartbeat failed');
      throw err;
    }
  }

  /** Stops beating and (by default) deletes the key and the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    if (!this.options.deleteOnClose) return;
    if (this.options.files) await this.options.files.removeHeartbeat(this.instance).catch(() => undefined);
    if (this.options.useRedis && this.#conn.isReady) {
      await this.#conn.run(`DEL ${this.key}`, (c) => c.del(this.key)).catch(() => undefined);
    }
  }
}

/** A live instance as a reader sees it. */
export interface LiveInstance {
  instance: string;
  info: HeartbeatInfo | null;
  /** Time left before the key expires, ms (−1 when it has none). */
  ttlMs: number;
  /** @defaultValue `redis` — `file` when read from the fallback files. */
  source?: 'redis' | 'file';
}

/** Escapes glob characters so a literal prefix can be used with SCAN MATCH. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Lists the live instances: SCAN (never KEYS) over `<prefix>*`, then one
 * pipelined GET + PTTL per key. A value that is not JSON gives `info: null`.
 */
export async function listInstances(conn: Connection, prefix = HEARTBEAT_DEFAULTS.prefix): Promise<LiveInstance[]> {
  const keys: string[] = [];
  await conn.run('SCAN heartbeats', async (c) => {
    for await (const batch of c.scanIterator({ MATCH: `${escapeGlob(prefix)}*`, COUNT: 200 })) keys.push(...batch);
  });
  if (keys.length === 0) return [];
  const replies = await conn.run('GET heartbeats', async (c) => {
    const m = c.multi();
    for (const k of keys) m.get(k).pTTL(k);
    return (await m.execAsPipeline()) as unknown[];
  });
  const out: LiveInstance[] = [];
  keys.forEach((k, i) => {
    const raw = replies[2 * i];
    if (raw === null || raw === undefined) return; // expired between SCAN and GET
    let info: HeartbeatInfo | null = null;
    try {
      const v = JSON.parse(String(raw)) as HeartbeatInfo;
      if (v && typeof v === 'object') info = v;
    } catch {
      info = null;
    }
    out.push({ instance: k.slice(prefix.length), info, ttlMs: Number(replies[2 * i + 1]) });
  });
  out.sort((a, b) => a.instance.localeCompare(b.instance));
  return out;
}

/** How a {@link PresenceWatcher} polls. */
export interface PresenceWatcherOptions {
  /** @defaultValue 2000 — time between two scans. */
  pollMs: number;
  /** @defaultValue `heartbeat:` */
  prefix: string;
  /**
   * Most instances tracked: heartbeat keys are written by every service user,
   * so a flood of them must not grow the watcher; the rest are ignored,
   * counted in {@link PresenceWatcher.ignored} and logged.
   * @defaultValue 4096
   */
  maxInstances: number;
  /** @defaultValue silent */
  logger: BusLogger;
}

export const PRESENCE_WATCHER_DEFAULTS: PresenceWatcherOptions = {
  pollMs: 2000,
  maxInstances: 4096,
  prefix: HEARTBEAT_DEFAULTS.prefix,
  logger: silentLogger,
};

export interface PresenceEvents {
  /** A heartbeat that was not there at the previous scan. */
  appeared: [instance: LiveInstance];
  /** A heartbeat that was there and is gone (expired or deleted); `last` is what it said last. */
  vanished: [instance: string, last: HeartbeatInfo | null];
  /** After every scan. */
  scan: [live: LiveInstance[]];
  error: [err: Error];
}

/**
 * Scans the heartbeats every `pollMs` and reports instances that appeared
 * or vanished. The first scan reports every live instance as appeared.
 */
export class PresenceWatcher extends EventEmitter<PresenceEvents> {
  readonly options: PresenceWatcherOptions;
  readonly #conn: Connection;
  readonly #known = new Map<string, HeartbeatInfo | null>();
  /** Heartbeats beyond `maxInstances` at the last scan. */
  ignored = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(conn: Connection, options: Partial<PresenceWatcherOptions> = {}) {
    super();
    const o = { ...PRESENCE_WATCHER_DEFAULTS, ...stripUndefined(options) };
    if (!(o.pollMs > 0)) throw new ConfigError(`pollMs must be > 0, got ${o.pollMs}`);
    if (!(Number.isInteger(o.maxInstances) && o.maxInstances > 0))
      throw new ConfigError(`maxInstances must be a positive integer, got ${o.maxInstances}`);
    this.options = o;
    this.#conn = conn;
  }

  /** Scans once now and then every `pollMs`. */
  async start(): Promise<void> {
    await this.scan();
    this.#timer = setInterval(() => void this.scan(), this.options.pollMs);
    this.#timer.unref();
  }

  /** The instances alive at the last scan. */
  get live(): string[] {
    return [...this.#known.keys()];
  }

  /** One scan; emits `appeared`/`vanished`/`scan`. Errors are emitted and logged, not thrown. */
  scan(): Promise<void> {
    if (this.#running) return this.#running;
    this.#running = this.#scan().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #scan(): Promise<void> {
    if (this.#closed) return;
    let live: LiveInstance[];
    try {
      live = await listInstances(this.#conn, this.options.prefix);
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'presence scan failed');
      if (this.listenerCount('error') > 0) this.emit('error', err as Error);
      return;
    }
    if (live.length > this.options.maxInstances) {
      if (this.ignored === 0)
        this.options.logger.warn(
          { heartbeats: live.length, maxInstances: this.options.maxInstances },
          'more heartbeats than maxInstances: the rest are ignored',
        );
      this.ignored = live.length - this.options.maxInstances;
      live = live.slice(0, this.options.maxInstances);
    } else this.ignored = 0;
    const now = new Set(live.map((l) => l.instance));
    for (const l of live) {
      if (!this.#known.has(l.instance)) this.emit('appeared', l);
      this.#known.set(l.instance, l.info);
    }
    for (const [instance, last] of [...this.#known]) {
      if (now.has(instance)) continue;
      this.#known.delete(instance);
      this.options.logger.info({ instance, service: last?.service }, 'instance vanished');
      this.emit('vanished', instance, last);
    }
    this.emit('scan', live);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
