import { EventEmitter } from 'node:events';
import { createClient } from 'redis';
import { ClosedError, ConnectionError, TimeoutError, VersionError, toBusError } from './errors.js';
import { createClusterClient } from './cluster/client.js';
import { busScripts, type BusScriptName } from './lua-scripts.js';
import type { ConnectionOptions } from './options.js';
import { backoffDelay, parseRedisUrl, redactUrl, resolveConnectionOptions } from './options.js';

function makeClient(o: ConnectionOptions, strategy: (retries: number, cause: Error) => false | Error | number) {
  const u = parseRedisUrl(o.url);
  return createClient({
    url: o.url,
    database: o.db,
    name: o.clientName,
    commandOptions: { timeout: o.commandTimeoutMs },
    scripts: busScripts(),
    socket: {
      connectTimeout: o.connectTimeoutMs,
      ...(u.tls ? { tls: true as const } : {}),
      reconnectStrategy: strategy,
    },
  });
}

/** The underlying node-redis client (RESP3, default type mapping). */
export type RedisClient = ReturnType<typeof makeClient>;

/** `ready` serves commands; `reconnecting` queues them until the timeout. */
export type Health = 'connecting' | 'ready' | 'reconnecting' | 'closed';

export interface ConnectionEvents {
  health: [state: Health, previous: Health];
  /** A transport or health-check error, already mapped to the taxonomy. */
  error: [err: Error];
  /** Emitted after a reconnect became ready again (not on the first connect). */
  reconnected: [];
}

/**
 * One Redis connection with the bus's policies: timeouts, exponential
 * backoff with jitter, a periodic health check, typed errors, and an
 * explicit {@link Connection.close}. Subscribers and blocking readers need
 * their own connection: use {@link Connection.duplicate}.
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  readonly options: ConnectionOptions;
  readonly client: RedisClient;
  #health: Health = 'connecting';
  #everReady = false;
  #closing = false;
  #forcing = false;
  #healthTimer: NodeJS.Timeout | undefined;
  #serverVersion = '';

  private constructor(options: ConnectionOptions, client: RedisClient) {
    super();
    this.options = options;
    this.client = client;
  }

  /**
   * Connects, checks the server version and persistence policy, and starts
   * the health check. The first connect is not retried: it fails with a
   * {@link ConnectionError}, {@link AuthError} or {@link TimeoutError}.
   */
  static async connect(opts: Partial<ConnectionOptions> = {}): Promise<Connection> {
    const o = resolveConnectionOptions(opts);
    const ref: { conn?: Connection } = {};
    const strategy = (retries: number, cause: Error): false | Error | number => {
      const c = ref.conn;
      if (!c || !c.#everReady || c.#closing) return false;
      if (retries >= o.reconnectMaxAttempts) {
        return new ConnectionError(`gave up after ${retries} reconnect attempts`, { cause });
      }
      return backoffDelay(retries + 1, o.reconnectBaseMs, o.reconnectMaxMs);
    };
    const client = o.clusterNodes.length > 0 ? createClusterClient(o, strategy) : makeClient(o, strategy);
    const conn = new Connection(o, client);
    ref.conn = conn;
    conn.#wire();
    const where = redactUrl(o.url);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connect(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new TimeoutError(`connect to ${where} did not finish within ${o.connectTimeoutMs} ms`)),
            o.connectTimeoutMs,
          );
        }),
      ]);
    } catch (err) {
      conn.#closing = true;
      client.destroy();
      conn.#setHealth('closed');
      throw toBusError(err, `connect to ${where}`);
    } finally {
      clearTimeout(timer);
    }
    conn.#everReady = true;
    conn.#setHealth('ready');
    try {
      await conn.#checkServer();
    } catch (err) {
      await conn.close();
      throw err;
    }
    conn.#startHealthCheck();
    return conn;
  }

  get health(): Health {
    return this.#health;
  }

  get isReady(): boolean {
    return this.#health === 'ready';
  }

  /** `redis_version` from INFO, e.g. `7.0.15`. */
  get serverVersion(): string {
    return this.#serverVersion;
  }

  /** A new connection with the same options (and any overrides). */
  duplicate(overrides: Partial<ConnectionOptions> = {}): Promise<Connection> {
    return Connection.connect({ ...this.options, ...overrides });
  }

  /**
   * Runs `fn` and maps whatever it throws to the bus taxonomy. It fails with
   * a {@link TimeoutError} when no reply came within `timeoutMs` (node-redis
   * itself only times out commands that were not yet written to the socket).
   * Blocking commands pass a `timeoutMs` above their BLOCK time, or 0.
   */
  async run<T>(
    context: string,
    fn: (client: RedisClient) => Promise<T>,
    opts: { timeoutMs?: number } = {},
  ): Promise<T> {
    if (this.#health === 'closed') throw new ClosedError(`${context}: connection is closed`);
    const timeoutMs = opts.timeoutMs ?? this.options.commandTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = fn(this.client);
      if (!(timeoutMs > 0)) return await work;
      return await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            work.catch(() => undefined);
            reject(new TimeoutError(`${context}: no reply within ${timeoutMs} ms`));
          }, timeoutMs);
        }),
      ]);
    } catch (err) {
      throw toBusError(err, context);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs one of the bus's Lua scripts (`lua/<name>.lua`) with this
   * connection's timeout and typed errors: EVALSHA, and EVAL when the server
   * does not know the script yet (NOSCRIPT).
   */
  runScript(name: BusScriptName, keys: string[], args: string[]): Promise<unknown> {
    return this.run(`script ${name}`, (c) => c[name](keys, args));
  }

  /** Stops the health check and closes the socket after pending replies. */
  async close(): Promise<void> {
    if (this.#health === 'closed') return;
    this.#closing = true;
    clearInterval(this.#healthTimer);
    let timer: NodeJS.Timeout | undefined;
    try {
      // Pending replies get commandTimeoutMs to arrive; then the socket is dropped.
      if (this.client.isOpen) {
        await Promise.race([
          this.client.close(),
          new Promise<void>((_, reject) => {
            timer = setTimeout(() => reject(new Error('close timed out')), this.options.commandTimeoutMs);
          }),
        ]);
      }
    } catch {
      this.client.destroy();
    } finally {
      clearTimeout(timer);
    }
    this.#setHealth('closed');
  }

  #wire(): void {
    this.client.on('error', (err: unknown) => {
      if (this.#closing) return;
      this.emit('error', toBusError(err, 'redis'));
    });
    this.client.on('reconnecting', () => {
      if (!this.#closing) this.#setHealth('reconnecting');
    });
    this.client.on('ready', () => {
      if (!this.#everReady || this.#closing) return;
      const was = this.#health;
      this.#setHealth('ready');
      if (was !== 'ready') this.emit('reconnected');
    });
    this.client.on('end', () => {
      if (this.#closing || this.#forcing) return;
      this.#setHealth('closed');
    });
  }

  /**
   * The server stopped answering but the socket looks open (a stalled
   * network, a frozen server): drop the socket and connect again, so
   * pending commands fail now and subscriptions are restored.
   */
  async #forceReconnect(): Promise<void> {
    if (this.#forcing || this.#closing) return;
    this.#forcing = true;
    this.options.logger.warn({}, 'redis stopped answering; reconnecting');
    this.#setHealth('reconnecting');
    try {
      this.client.destroy();
      await this.client.connect();
    } catch (err) {
      if (!this.#closing) this.emit('error', toBusError(err, 'forced reconnect'));
    } finally {
      this.#forcing = false;
    }
  }

  #setHealth(state: Health): void {
    const prev = this.#health;
    if (prev === state) return;
    this.#health = state;
    this.options.logger.debug({ state, previous: prev }, 'redis connection health');
    this.emit('health', state, prev);
  }

  async #checkServer(): Promise<void> {
    const info = await this.run('INFO server', (c) => c.info('server'));
    const m = /redis_version:([\d.]+)/.exec(info);
    this.#serverVersion = m?.[1] ?? '0.0.0';
    if (compareVersions(this.#serverVersion, this.options.minServerVersion) < 0) {
      throw new VersionError(
        `Redis ${this.#serverVersion} is older than the minimum supported ${this.options.minServerVersion}`,
      );
    }
    try {
      const cfg = await this.client.configGet('maxmemory-policy');
      const policy = cfg['maxmemory-policy'];
      if (policy && policy !== 'noeviction') {
        this.options.logger.warn(
          { policy },
          'maxmemory-policy is not noeviction: Redis may silently evict stream and state keys',
        );
      }
    } catch {
      // CONFIG is often forbidden to least-privilege ACL users; nothing to check then.
    }
  }

  #startHealthCheck(): void {
    if (this.options.healthCheckIntervalMs <= 0) return;
    let busy = false;
    this.#healthTimer = setInterval(() => {
      if (this.#health !== 'ready' || busy) return;
      busy = true;
      this.run('health check PING', (c) => c.ping())
        .catch((err: unknown) => {
          if (this.#closing) return;
          this.emit('error', err as Error);
          if (err instanceof TimeoutError) void this.#forceReconnect();
        })
        .finally(() => {
          busy = false;
        });
    }, this.options.healthCheckIntervalMs);
    this.#healthTimer.unref();
  }
}

/** Compares dotted versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}
