import { EventEmitter } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '../../bus/connection.js';
import { BusError, ConfigError } from '../../bus/errors.js';
import type { CommandHandler } from '../../bus/mailbox.js';
import { Mailbox } from '../../bus/mailbox.js';
import type { ConnectionOptions } from '../../bus/options.js';
import { backoffDelay } from '../../bus/options.js';
import type { HeartbeatOptions } from '../../bus/presence.js';
import { defaultInstance, Heartbeat } from '../../bus/presence.js';
import { FabricJanitor, type FabricJanitorOptions } from '../../bus/fallback/janitor.js';
import { FabricFiles } from '../../bus/fallback/records.js';
import { Registry } from '../../bus/registry.js';
import { Subscriber } from '../../bus/subscriber.js';
import { loadBaseConfig } from '../../config/env.js';
import { Publisher } from '../../bus/topics.js';
import { packageVersion } from '../../config/version.js';
import { createLogger, type Logger } from '../../util/log.js';
import { redisConnectionFromEnv } from '../../config/redis.js';

/** What every Canopy process needs from the fabric. */
export interface ServiceRuntimeOptions {
  /** The service name (`alerts`, `worker`, …). Required. */
  service: string;
  /** @defaultValue `<host>:<service>:<pid>` — names the heartbeat, the mailbox and stream consumers. */
  instance: string;
  /** @defaultValue the package version */
  version: string;
  /** @defaultValue `createLogger(service)` (pino, JSON on stderr, `LOG_LEVEL`) */
  log: Logger;
  /** @defaultValue `{}` — `REDIS_URL`/`REDIS_DB` apply; `clientName` defaults to the service name. */
  connection: Partial<ConnectionOptions>;
  /** @defaultValue `{}` — TTL 30 s, beat every 10 s. */
  heartbeat: Partial<Omit<HeartbeatOptions, 'service' | 'instance' | 'version' | 'counters' | 'logger'>>;
  /** @defaultValue none — live counters written into every heartbeat and answered by `status`. */
  counters: () => Record<string, unknown>;
  /** @defaultValue none — `reload-config` calls it (its result is the reply); without it the command fails. */
  onReloadConfig: (() => unknown) | undefined;
  /** @defaultValue `{}` — extra admin commands (or replacements of the built-in ones). */
  commands: Record<string, CommandHandler>;
  /**
   * @defaultValue 30 — attempts of the first connect (with backoff up to 5 s) while Redis is not
   * up yet (`canopy up` starts services right after Redis); 1 fails at once.
   */
  connectAttempts: number;
  /**
   * @defaultValue `USE_REDIS` (true unless `false`/`0`/`no`/`off`) — `false` keeps heartbeats,
   * identities and admin messages in the fallback files on purpose (see docs/fallback.md).
   */
  useRedis: boolean;
  /** @defaultValue `$CANOPY_DATA_DIR/fabric` — the fallback files of the fabric. */
  fabricDir: string;
  /** @defaultValue `{}` — identity cleanup every 10 min by the elected process, file sweeps, replays. */
  janitor: Partial<Omit<FabricJanitorOptions, 'instance' | 'logger'>>;
  /**
   * @defaultValue false — `true`: the heartbeat (which tells everyone the service is up) starts only when
   * the service calls {@link ServiceRuntime.ready}, once its inputs are set up; the admin mailbox runs at once.
   */
  deferHeartbeat: boolean;
  /**
   * @defaultValue none — aborted when the process is asked to stop while the service is still starting:
   * a first connect being retried ({@link connectAttempts}) ends at once with the signal's reason, and the
   * stop begins for its connections ({@link ServiceRuntime.beginStop}: they no longer wait for a Redis that
   * is gone), so the start fails instead of waiting for a Redis that may not come back.
   */
  signal?: AbortSignal;
}

export interface ServiceRuntimeEvents {
  pause: [];
  resume: [];
  reload: [result: unknown];
}

/** What {@link startServiceRuntime} gives a service. */
export interface ServiceRuntime extends EventEmitter<ServiceRuntimeEvents> {
  readonly service: string;
  readonly instance: string;
  readonly conn: Connection;
  /** Pub/sub on its own connection, shared by the mailbox and the service. */
  readonly subscriber: Subscriber;
  readonly publisher: Publisher;
  /** Its heartbeat; with `deferHeartbeat`, available once {@link ready} resolved. */
  readonly presence: Heartbeat;
  readonly mailbox: Mailbox;
  /** Identities (`identity:{scope}:{id}`), with the file fallback. */
  readonly registry: Registry;
  readonly janitor: FabricJanitor;
  readonly log: Logger;
  /** Set by the `pause` admin command, cleared by `resume`: a paused service stops acting (it keeps its heartbeat). */
  readonly paused: boolean;
  /** Starts the heartbeat when it was deferred (`deferHeartbeat`); at once otherwise. Idempotent. */
  ready(): Promise<void>;
  /**
   * Says a stop is under way: from now on the service's connections (this
   * one and every one duplicated from it: subscriber, stream readers) do not
   * wait for a Redis that is gone — one that is not connected, or loses the
   * server during the stop, is closed at once and its commands fail fast, so
   * a stop without Redis takes as long as the service's own work. Call it
   * first in a service's `stop()`; {@link close} calls it too.
   */
  beginStop(): void;
  /** Stops the mailbox and heartbeat (deleting it), closes the subscriber and the connection. */
  close(): Promise<void>;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

class Runtime extends EventEmitter<ServiceRuntimeEvents> implements ServiceRuntime {
  paused = false;
  #closed = false;
  #presence: Heartbeat | undefined;
  #starting: Promise<void> | undefined;
  constructor(
    readonly service: string,
    readonly instance: string,
    readonly conn: Connection,
    readonly subscriber: Subscriber,
    readonly publisher: Publisher,
    readonly startPresence: () => Promise<Heartbeat>,
    readonly mailbox: Mailbox,
    readonly registry: Registry,
    readonly janitor: FabricJanitor,
    readonly log: Logger,
    readonly stopping: AbortController,
  ) {
    super();
  }

  beginStop(): void {
    this.stopping.abort();
  }

  get presence(): Heartbeat {
    if (!this.#presence) throw new ConfigError(`${this.service}: the heartbeat starts with ready()`);
    return this.#presence;
  }

  /** The heartbeat when it runs. */
  get beating(): Heartbeat | undefined {
    return this.#presence;
  }

  ready(): Promise<void> {
    this.#starting ??= this.startPresence().then((hb) => {
      if (this.#closed) return hb.close();
      this.#presence = hb;
    });
    return this.#starting;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.beginStop();
    await this.janitor.close().catch(() => undefined);
    await this.mailbox.close().catch(() => undefined);
    await this.#starting?.catch(() => undefined);
    await this.#presence?.close().catch(() => undefined);
    await this.subscriber.close().catch(() => undefined);
    await this.conn.close().catch(() => undefined);
  }
}

/**
 * Connects a service to the fabric in one call: a Redis connection, its
 * heartbeat (`heartbeat:{instance}`), a subscriber and publisher, and its
 * admin mailbox with `ping`, `help`, `status`, `reload-config`,
 * `set-log-level`, `pause` and `resume`.
 */
export async function startServiceRuntime(
  options: Partial<ServiceRuntimeOptions> & Pick<ServiceRuntimeOptions, 'service'>,
): Promise<ServiceRuntime> {
  const o: ServiceRuntimeOptions = {
    instance: defaultInstance(options.service),
    version: packageVersion(),
    log: options.log ?? createLogger(options.service),
    connection: {},
    heartbeat: {},
    counters: () => ({}),
    onReloadConfig: undefined,
    commands: {},
    connectAttempts: 30,
    useRedis: loadBaseConfig().useRedis,
    fabricDir: path.join(loadBaseConfig().dataDir, 'fabric'),
    janitor: {},
    deferHeartbeat: false,
    ...stripUndefined(options),
    service: options.service,
  };
  if (!o.service) throw new ConfigError('service must not be empty');
  if (!(o.connectAttempts >= 1)) throw new ConfigError('connectAttempts must be >= 1');
  const log = o.log;
  const stopping = new AbortController();
  // a stop asked for during the start: from then on nothing waits for a Redis that is gone (see beginStop)
  o.signal?.addEventListener('abort', () => stopping.abort(), { once: true });
  const conn = await connectWithRetry(
    { clientName: o.service, logger: log, ...redisConnectionFromEnv(), stopSignal: stopping.signal, ...o.connection },
    o.connectAttempts,
    log,
    o.signal,
  );
  conn.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  conn.on('health', (state, previous) => log.info({ state, previous }, 'redis connection health'));
  let subscriber: Subscriber | undefined;
  let mailbox: Mailbox | undefined;
  let runtime: Runtime | undefined;
  try {
    subscriber = await Subscriber.create(conn, { logger: log });
    const publisher = new Publisher(conn);
    const ref: { rt?: Runtime } = {};
    const files = new FabricFiles({ dir: o.fabricDir });
    const fallback = { files, useRedis: o.useRedis };
    const startPresence = () =>
      Heartbeat.start(conn, {
        ...o.heartbeat,
        ...fallback,
        service: o.service,
        instance: o.instance,
        version: o.version,
        logger: log,
        counters: () => ({ ...o.counters(), paused: ref.rt?.paused ?? false }),
      });
    mailbox = new Mailbox(conn, { instance: o.instance, subscriber, logger: log, ...fallback });
    const registry = new Registry(conn, fallback);
    const janitor = new FabricJanitor(conn, registry, files, { ...o.janitor, instance: o.instance, logger: log });
    const rt = (runtime = new Runtime(
      o.service,
      o.instance,
      conn,
      subscriber,
      publisher,
      startPresence,
      mailbox,
      registry,
      janitor,
      log,
      stopping,
    ));
    if (!o.deferHeartbeat) await rt.ready();
    // Redis is back: beat there (removing the file), replay the identities, drain the mailbox.
    conn.on('reconnected', () => {
      const hb = rt.beating;
      void (async () => {
        await hb?.beat().catch(() => undefined);
        await janitor.replay().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'replay failed'));
        await mailbox?.drain();
      })();
    });
    ref.rt = rt;
    mailbox.handle('status', () => ({
      service: o.service,
      instance: o.instance,
      version: o.version,
      paused: rt.paused,
      log_level: log.level,
      ...o.counters(),
    }));
    mailbox.handle('set-log-level', (args) => {
      const level = String(args.level ?? '');
      if (!LEVELS.includes(level)) throw new ConfigError(`level must be one of ${LEVELS.join(', ')}, got "${level}"`);
      const previous = log.level;
      log.level = level;
      log.info({ level, previous }, 'log level changed by admin message');
      return { level, previous };
    });
    mailbox.handle('pause', () => {
      if (!rt.paused) {
        rt.paused = true;
        log.info('paused by admin message');
        rt.emit('pause');
      }
      return { paused: true };
    });
    mailbox.handle('resume', () => {
      if (rt.paused) {
        rt.paused = false;
        log.info('resumed by admin message');
        rt.emit('resume');
      }
      return { paused: false };
    });
    mailbox.handle('reload-config', async () => {
      if (!o.onReloadConfig) throw new ConfigError(`${o.service} has no configuration to reload`);
      const result = await o.onReloadConfig();
      log.info('configuration reloaded by admin message');
      rt.emit('reload', result);
      return result ?? { reloaded: true };
    });
    for (const [name, h] of Object.entries(o.commands)) mailbox.handle(name, h);
    await mailbox.start();
    janitor.start();
    log.info({ instance: o.instance, version: o.version }, `${o.service} joined the fabric`);
    return rt;
  } catch (err) {
    await mailbox?.close().catch(() => undefined);
    await runtime?.beating?.close().catch(() => undefined);
    await subscriber?.close().catch(() => undefined);
    await conn.close();
    throw err;
  }
}

async function connectWithRetry(
  opts: Partial<ConnectionOptions>,
  attempts: number,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<Connection> {
  for (let i = 1; ; i++) {
    signal?.throwIfAborted();
    try {
      return await Connection.connect(opts);
    } catch (err) {
      const transient = err instanceof BusError && (err.code === 'BUS_CONNECTION' || err.code === 'BUS_TIMEOUT');
      if (!transient || i >= attempts) throw err;
      const delay = backoffDelay(i, 200, 5000);
      log.warn({ attempt: i, delayMs: delay, err: (err as Error).message }, 'Redis not reachable yet; retrying');
      await sleep(delay, undefined, signal ? { signal } : undefined);
    }
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
