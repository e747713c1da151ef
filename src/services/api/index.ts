import type { Socket } from 'node:net';
import { pipelinePathsEnv } from '../../config/pipeline.js';
import type { FastifyInstance } from 'fastify';
import { FabricFiles } from '../../bus/fallback/records.js';
import { ConfigError } from '../../bus/errors.js';
import { LiveState } from '../../bus/state.js';
import { isTransient, openStore, type Store, type StoreOptions } from '../../store/index.js';
import { createLogger, type Logger } from '../../util/log.js';
import { startServiceRuntime, type ServiceRuntime, type ServiceRuntimeOptions } from '../common/runtime.js';
import type { ServiceHandle } from '../types.js';
import { buildApp, type ApiRoutes } from './app.js';
import { checkToken, TokenAuth } from './auth.js';
import { loadCatalogue, type SensorInfo } from './catalogue.js';
import { readStatusOf, type ApiContext } from './context.js';
import { ApiMetrics } from './metrics.js';
import { resolveApiOptions, type ApiOptions } from './options.js';
import type { ApiStore } from './store-port.js';
import { UpdateFeed } from './updates.js';
import { loadControlConfig } from './control-config.js';
import { UserFeed, type UserFeedOptions } from './user-feed.js';
import { WsHub } from './ws-hub.js';

export { requireRole, TokenAuth, ROLES, type Role } from './auth.js';
export type { ApiContext } from './context.js';
export { ApiError } from './context.js';
export type { ApiRoutes } from './app.js';
export { resolveApiOptions, type ApiOptions } from './options.js';
export type { ApiStore, HistoryBucket, ReadingRow } from './store-port.js';
export type { SensorInfo } from './catalogue.js';
export { USER_FEED_DEFAULTS, type UserFeedOptions, type UserFeedStats } from './user-feed.js';

/** What `start` may be given besides options (tests and embedders inject parts). */
export interface ApiStartConfig extends Partial<ApiOptions> {
  /** @defaultValue opened from `databaseUrl` */
  store?: ApiStore;
  /** @defaultValue built from the node map and sensor settings (src/cea, CANOPY_NODES / CANOPY_SENSORS) */
  catalogue?: SensorInfo[];
  /** @defaultValue none — more route groups (e.g. control endpoints). */
  routes?: ApiRoutes[];
  /** @defaultValue `createLogger('api')` */
  logger?: Logger;
  /** @defaultValue {@link USER_FEED_DEFAULTS} (the coalescing threshold is `wsMaxBufferedBytes`) — limits of the per-user feed on /ws. */
  userFeed?: Partial<UserFeedOptions>;
  /**
   * @defaultValue `{ connectAttempts: 1 }` — passed to {@link startServiceRuntime} (connection, heartbeat,
   * admin mailbox: `reload-config` re-reads the tokens).
   */
  runtime?: Partial<Omit<ServiceRuntimeOptions, 'service'>>;
}

export interface ApiHandle extends ServiceHandle {
  /** `http://host:port` the API listens on. */
  url: string;
  port: number;
  app: FastifyInstance;
  ctx: ApiContext;
  /** Its connection, heartbeat and admin mailbox. */
  runtime: ServiceRuntime;
}

/**
 * Starts the API: connects Redis (commands + one subscription connection),
 * uses the store, serves REST, /ws, /metrics, /docs and the dashboard.
 */
export async function start(config: ApiStartConfig = {}): Promise<ApiHandle> {
  const { store: givenStore, catalogue, routes, logger, userFeed, runtime: rtOpts, ...opts } = config;
  const options = resolveApiOptions(opts);
  const log = logger ?? createLogger('api');
  const auth = TokenAuth.load(options);
  const countersRef: { fn?: () => Record<string, unknown> } = {};
  const rt = await startServiceRuntime({
    service: 'api',
    log,
    connectAttempts: 1,
    deferHeartbeat: true,
    fabricDir: options.fabricDir,
    counters: () => countersRef.fn?.() ?? {},
    ...rtOpts,
    connection: {
      ...(options.redisUrl ? { url: options.redisUrl } : {}),
      clientName: 'canopy-api',
      ...rtOpts?.connection,
    },
    onReloadConfig: () => reloadTokens(auth, options, log),
    commands: { pause: refusePause, resume: refusePause, ...rtOpts?.commands },
  });
  const conn = rt.conn;
  // closed in reverse order of creation: app, store, hub, feed, Redis (the runtime: mailbox, heartbeat, connection)
  const cleanup: Array<() => Promise<void> | void> = [() => rt.close()];
  const ctxRef: { ctx?: ApiContext } = {};
  try {
    const feed = await UpdateFeed.start(conn, log);
    cleanup.push(() => feed.close());
    const control = loadControlConfig(options.devicesFile, log);
    // devices the automation reported before this process started: their last update, at once
    await feed
      .seed(conn, control?.devices.map((d) => d.name) ?? [])
      .catch((err: unknown) => log.warn({ err }, 'device states not read at start: shown at their next update'));
    const hub = new WsHub(
      {
        maxBufferedBytes: options.wsMaxBufferedBytes,
        maxPending: options.wsMaxPending,
        flushIntervalMs: options.wsFlushIntervalMs,
        pingIntervalMs: options.wsPingIntervalMs,
        maxClients: options.wsMaxClients,
        authTimeoutMs: options.wsAuthTimeoutMs,
        maxBadMessages: 20,
      },
      log,
      (token) => checkToken(auth, token, 'viewer'),
    );
    cleanup.push(() => hub.close());
    const users = new UserFeed(conn, log, { maxBufferedBytes: options.wsMaxBufferedBytes, ...userFeed });
    cleanup.push(() => users.close());
    hub.users = users;
    feed.on('sensor', (u) => hub.sensor(u));
    feed.on('device', (u) => hub.device(u));
    let store = givenStore;
    if (!givenStore) {
      // the read side (history, export, journal) on DATABASE_READ_URL when set; writes on DATABASE_URL
      const storeOpts = { readUrl: options.databaseReadUrl, logger: log };
      const opener = new StoreOpener(options.databaseUrl, storeOpts, log, (s) => {
        if (ctxRef.ctx) ctxRef.ctx.store = s;
      });
      cleanup.push(() => opener.close());
      store = await opener.open();
    }
    const cat = catalogue ?? loadCatalogue(pipelinePathsEnv());
    const ctx: ApiContext = (ctxRef.ctx = {
      options,
      conn,
      fabric: new FabricFiles({ dir: options.fabricDir }),
      live: new LiveState(conn, { prefix: options.livePrefix }),
      store,
      catalogue: cat,
      byName: new Map(cat.map((s) => [s.name, s])),
      feed,
      control,
      hub,
      metrics: new ApiMetrics({
        conn,
        readStatus: () => readStatusOf(ctxRef.ctx?.store, options.healthTimeoutMs),
        hub,
        feed,
        rawStream: options.rawStream,
        workerGroup: options.workerGroup,
        workerStatsKey: options.workerStatsKey,
      }),
      auth,
      log,
      startedAt: performance.now(),
    });
    const app = await buildApp(ctx, routes);
    // every TCP connection, so stop() ends them all (a stalled or half-open one included)
    const sockets = new Set<Socket>();
    app.server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    cleanup.push(() => {
      const closing = app.close();
      for (const s of sockets) s.destroy();
      return closing;
    });
    await app.listen({ port: options.port, host: options.host });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : options.port;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    const url = `${options.tlsCert ? 'https' : 'http'}://${host}:${port}`;
    log.info(
      { port, host: options.host, tokens: auth.size, reads: options.readAccess, tls: Boolean(options.tlsCert) },
      'api listening',
    );
    if (options.readAccess === 'viewer' && auth.size === 0) {
      log.warn(
        'bound beyond loopback with no API tokens: every read and /ws is refused until CANOPY_API_TOKENS is set',
      );
    }
    countersRef.fn = () => ({ url, ws_clients: hub.stats.clients, ...feed.stats, user_feed_users: users.stats.users });
    await rt.ready(); // the heartbeat says the api is up once it listens
    let stopped = false;
    return {
      url,
      port,
      app,
      ctx,
      runtime: rt,
      async stop() {
        if (stopped) return;
        stopped = true;
        rt.beginStop(); // without Redis, nothing below waits for it
        await runAll(cleanup.reverse());
      },
    };
  } catch (err) {
    await runAll(cleanup.reverse());
    throw err;
  }
}

/**
 * `reload-config`: reads the tokens again (`CANOPY_API_TOKENS` as given at start, the tokens file anew).
 * A file that no longer loads is refused with the reason and the tokens in force stay.
 */
function reloadTokens(auth: TokenAuth, options: ApiOptions, log: Logger): { tokens: number } {
  const next = TokenAuth.load(options);
  auth.replaceWith(next);
  log.info({ tokens: next.size }, 'API tokens reloaded');
  return { tokens: next.size };
}

/** The API has nothing to pause (it only serves what others produce): refused rather than pretended. */
function refusePause(): never {
  throw new ConfigError('the api cannot be paused: stop it, or take its tokens away and reload-config');
}

async function runAll(fns: Array<() => Promise<void> | void>): Promise<void> {
  for (const f of fns) {
    try {
      await f();
    } catch {
      // keep closing the rest
    }
  }
}

/**
 * Opens the history store. A store that cannot be reached yet (PostgreSQL
 * still starting) is retried in the background with backoff: meanwhile the
 * API serves live data, and history, export and /health say the store is
 * down. Bad configuration fails the start.
 */
class StoreOpener {
  store: ApiStore | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #url: string;
  readonly #opts: Partial<StoreOptions>;
  readonly #log: Logger;
  readonly #onOpen: (s: ApiStore) => void;

  constructor(url: string, opts: Partial<StoreOptions>, log: Logger, onOpen: (s: ApiStore) => void) {
    this.#url = url;
    this.#opts = opts;
    this.#log = log;
    this.#onOpen = onOpen;
  }

  /** First attempt: resolves with the store, or undefined (retrying) when it is unavailable. */
  async open(): Promise<ApiStore | undefined> {
    try {
      return this.#opened(await openStore(this.#url, this.#opts));
    } catch (err) {
      if (!isTransient(err)) throw err;
      this.#retry(1000, err as Error);
      return undefined;
    }
  }

  #opened(s: Store): ApiStore {
    this.store = s;
    return s;
  }

  #retry(delayMs: number, err: Error): void {
    this.#log.warn({ err: err.message, retryInMs: delayMs }, 'history store unavailable; retrying');
    this.#timer = setTimeout(() => {
      openStore(this.#url, this.#opts).then(
        async (s) => {
          if (this.#stopped) return s.close();
          this.#log.info('history store open');
          this.#onOpen(this.#opened(s));
        },
        (e: unknown) => {
          if (!this.#stopped) this.#retry(Math.min(30_000, delayMs * 2), e as Error);
        },
      );
    }, delayMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.store?.close();
  }
}
