import { EventEmitter } from 'node:events';
import { createClusterClient } from './cluster/client.js';
import { withDeadline } from './deadline.js';
import { ClosedError, ConfigError, ConnectionError, ReplyError, TimeoutError, toBusError } from './errors.js';
import type { BusScriptName } from './lua-scripts.js';
import type { ConnectionOptions, RedisNode } from './options.js';
import { backoffDelay, parseRedisUrl, redactUrl, resolveConnectionOptions } from './options.js';
import type { ConnectionEvents, Health, RedisTopologyInfo, SwitchInfo } from './connection-types.js';
import { makeClient, type ReconnectStrategy, type RedisClient } from './redis-client.js';
import { checkServer, openClient } from './server-check.js';
import { askPrimary, nodeAddress, parseReplicationInfo, SentinelWatcher } from './sentinel.js';
import { closeWhenStoppedOffline } from './stop-signal.js';

export type { RedisClient } from './redis-client.js';
export { compareVersions } from './server-check.js';

export type { ConnectionEvents, Health, RedisTopologyInfo, SwitchInfo } from './connection-types.js';

interface ClientState {
  ready: boolean;
}

/**
 * One Redis connection with the bus's policies: timeouts, exponential
 * backoff with jitter, a periodic health check, typed errors, and an
 * explicit {@link Connection.close}. Subscribers and blocking readers need
 * their own connection: use {@link Connection.duplicate}.
 *
 * With `sentinels`, the primary is found through Sentinel and followed
 * through a failover: on `+switch-master`, on every reconnect attempt and
 * on a READONLY reply the sentinels are asked again, and when the primary
 * moved the connection swaps in a client on the new one (`switched`, then
 * `reconnected`). Commands in flight on the old client fail with a
 * {@link ConnectionError}; callers retry through {@link run}.
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  readonly options: ConnectionOptions;
  #client!: RedisClient;
  /** The primary in Sentinel mode. */
  #node: RedisNode | undefined;
  #health: Health = 'connecting';
  #everReady = false;
  #closing = false;
  #forcing = false;
  #healthTimer: NodeJS.Timeout | undefined;
  #serverVersion = '';
  #switches = 0;
  #lastSwitchAt: number | undefined;
  #following: Promise<void> | undefined;
  #watcher: SentinelWatcher | undefined;
  #unwatchStop: (() => void) | undefined;

  private constructor(options: ConnectionOptions) {
    super();
    this.options = options;
  }

  /** The node-redis client commands go to now (another one after a Sentinel switch). */
  get client(): RedisClient {
    return this.#client;
  }

  /**
   * Connects, checks the server version and persistence policy, and starts
   * the health check. The first connect is not retried: it fails with a
   * {@link ConnectionError}, {@link AuthError} or {@link TimeoutError}
   * (with sentinels: {@link ConfigError} when they know no such master).
   */
  static async connect(opts: Partial<ConnectionOptions> = {}): Promise<Connection> {
    const o = resolveConnectionOptions(opts);
    if (o.sentinels.length > 0 && o.clusterNodes.length > 0) {
      throw new ConfigError('sentinels and clusterNodes exclude each other');
    }
    const conn = new Connection(o);
    const state: ClientState = { ready: false };
    const strategy = conn.#strategyFor(state);
    let client: RedisClient;
    if (o.clusterNodes.length > 0) client = createClusterClient(o, strategy);
    else if (o.sentinels.length > 0) {
      conn.#node = await askPrimary(o);
      client = makeClient(o, strategy, conn.#node);
    } else client = makeClient(o, strategy);
    conn.#client = client;
    conn.#wire(client);
    try {
      await conn.#open(client);
      if (conn.#node) await conn.#checkPrimary(client, conn.#node);
    } catch (err) {
      conn.#closing = true;
      client.destroy();
      conn.#setHealth('closed');
      throw err;
    }
    state.ready = true;
    conn.#everReady = true;
    conn.#setHealth('ready');
    try {
      await conn.#checkServer();
    } catch (err) {
      await conn.close();
      throw err;
    }
    if (o.sentinels.length > 0) {
      conn.#watcher = new SentinelWatcher(o, (to) => void conn.#follow('+switch-master', to));
    }
    conn.#startHealthCheck();
    if (o.stopSignal) conn.#unwatchStop = closeWhenStoppedOffline(conn, o.stopSignal);
    return conn;
  }

  /** Connects `client` within the connect timeout; destroys it and throws a bus error when it fails. */
  #open(client: RedisClient, node = this.#node): Promise<void> {
    const where = node ? nodeAddress(node) : redactUrl(this.options.url);
    return openClient(client, where, this.options.connectTimeoutMs);
  }

  #strategyFor(state: ClientState): ReconnectStrategy {
    const o = this.options;
    return (retries, cause) => {
      if (!state.ready || !this.#everReady || this.#closing) return false;
      if (retries >= o.reconnectMaxAttempts) {
        return new ConnectionError(`gave up after ${retries} reconnect attempts`, { cause });
      }
      // the safety net of following a failover: ask the sentinels on every attempt
      if (o.sentinels.length > 0) void this.#follow('reconnect');
      return backoffDelay(retries + 1, o.reconnectBaseMs, o.reconnectMaxMs);
    };
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

  /** Where commands go now, how often the connection moved, and when it last did. */
  get topology(): RedisTopologyInfo {
    const o = this.options;
    let primary: string;
    if (this.#node) primary = nodeAddress(this.#node);
    else {
      const u = parseRedisUrl(o.url);
      primary = nodeAddress({ host: u.host, port: u.port });
    }
    return {
      mode: o.clusterNodes.length > 0 ? 'cluster' : o.sentinels.length > 0 ? 'sentinel' : 'single',
      primary,
      switches: this.#switches,
      lastSwitchAt: this.#lastSwitchAt === undefined ? null : new Date(this.#lastSwitchAt).toISOString(),
    };
  }

  /** Times the connection moved to another primary. */
  get switches(): number {
    return this.#switches;
  }

  /** Unix ms of the last move to another primary, if any. */
  get lastSwitchAt(): number | undefined {
    return this.#lastSwitchAt;
  }

  /**
   * Replicas connected to the server now (`INFO replication`); 0 on a
   * replica or when the command fails.
   */
  async connectedReplicas(): Promise<number> {
    try {
      const info = await this.run('INFO replication', (c) => c.info('replication'));
      return parseReplicationInfo(info).replicas;
    } catch {
      return 0;
    }
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
    const client = this.#client;
    try {
      return await withDeadline(fn(client), timeoutMs, () => {
        throw new TimeoutError(`${context}: no reply within ${timeoutMs} ms`);
      });
    } catch (err) {
      const e = toBusError(err, context);
      if (this.options.sentinels.length > 0 && !this.#closing) {
        // the old client was retired by a switch: a transport failure, retried on the new primary
        if (client !== this.#client && e instanceof ClosedError) {
          throw new ConnectionError(`${context}: the primary moved; retry`, { cause: err });
        }
        // a demoted primary answers writes with READONLY: ask the sentinels where the primary is now
        if (e instanceof ReplyError && e.reply === 'READONLY') void this.#follow('READONLY');
      }
      throw e;
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

  /**
   * Stops the health check and closes the socket after pending replies. A
   * connection that is not connected (Redis gone, reconnecting) is dropped at
   * once: no reply can come, and a stop must not wait for the server to return.
   */
  async close(): Promise<void> {
    if (this.#health === 'closed') return;
    this.#closing = true;
    this.#unwatchStop?.();
    clearInterval(this.#healthTimer);
    this.#watcher?.close();
    // a re-ask in progress is not awaited (it may wait on dead sentinels): a client it opens is dropped
    try {
      // Pending replies get commandTimeoutMs to arrive; then the socket is dropped.
      if (this.client.isOpen && !this.client.isReady) this.client.destroy();
      else if (this.client.isOpen) {
        await withDeadline(this.client.close(), this.options.commandTimeoutMs, () => {
          throw new Error('close timed out');
        });
      }
    } catch {
      this.client.destroy();
    }
    this.#setHealth('closed');
  }

  #wire(client: RedisClient): void {
    const current = () => client === this.#client && !this.#closing;
    client.on('error', (err: unknown) => {
      if (current()) this.emit('error', toBusError(err, 'redis'));
    });
    client.on('reconnecting', () => {
      if (current()) this.#setHealth('reconnecting');
    });
    client.on('ready', () => {
      if (!this.#everReady || !current()) return;
      const was = this.#health;
      this.#setHealth('ready');
      if (was !== 'ready') this.emit('reconnected');
      // back on the same address: is it still the primary?
      if (this.#node) void this.#follow('reconnected');
    });
    client.on('end', () => {
      if (!current() || this.#forcing) return;
      this.#setHealth('closed');
    });
  }

  /**
   * Asks the sentinels where the primary is (or takes the address a
   * `+switch-master` gave) and moves there when it is not where this
   * connection is, or when the server here is no longer a primary. One
   * at a time; failures are emitted as `error` and retried by the next call.
   */
  #follow(reason: string, hint?: RedisNode): Promise<void> {
    if (!this.#node || this.#closing) return Promise.resolve();
    // a sentinel's announcement arriving during a re-ask is followed right after it
    if (this.#following && hint) return this.#following.then(() => this.#follow(reason, hint));
    this.#following ??= this.#doFollow(reason, hint)
      .catch((err: unknown) => {
        if (!this.#closing) this.emit('error', toBusError(err, `following the primary (${reason})`));
      })
      .finally(() => {
        this.#following = undefined;
      });
    return this.#following;
  }

  async #doFollow(reason: string, hint?: RedisNode): Promise<void> {
    const to = hint ?? (await askPrimary(this.options));
    if (this.#closing) return;
    const here = this.#node as RedisNode;
    if (to.host === here.host && to.port === here.port) {
      if (reason !== 'READONLY' && reason !== 'reconnected') return;
      // same address but a READONLY reply or a reconnect: make sure it still is the primary
      const info = await this.run('INFO replication', (c) => c.info('replication')).catch(() => '');
      const { role } = parseReplicationInfo(info);
      if (role === 'master' || role === 'unknown') return;
      throw new ConnectionError(`${nodeAddress(here)} is a ${role} now; waiting for the sentinels to name a primary`);
    }
    await this.#switchTo(to, reason);
  }

  /** Connects a client to `to`, checks it is a primary, and swaps it in for the current one. */
  async #switchTo(to: RedisNode, reason: string): Promise<void> {
    const state: ClientState = { ready: false };
    const fresh = makeClient(this.options, this.#strategyFor(state), to);
    const previous = this.#node;
    this.#wire(fresh);
    try {
      await this.#open(fresh, to);
      await this.#checkPrimary(fresh, to);
    } catch (err) {
      if (fresh.isOpen) fresh.destroy();
      throw err;
    }
    if (this.#closing) {
      fresh.destroy();
      return;
    }
    state.ready = true;
    const old = this.#client;
    this.#client = fresh;
    this.#node = to;
    this.#switches++;
    this.#lastSwitchAt = Date.now();
    try {
      old.destroy();
    } catch {
      // already closed
    }
    const info: SwitchInfo = { from: previous ? nodeAddress(previous) : '?', to: nodeAddress(to), reason };
    this.options.logger.info({ ...info, switches: this.#switches }, 'redis primary switched');
    this.emit('switched', info);
    this.#setHealth('ready');
    this.emit('reconnected');
  }

  /** Checks (`INFO replication`) that `client` talks to a primary. */
  async #checkPrimary(client: RedisClient, node: RedisNode): Promise<void> {
    let info: string;
    try {
      info = await client.info('replication');
    } catch (err) {
      throw toBusError(err, 'INFO replication');
    }
    const { role } = parseReplicationInfo(info);
    if (role !== 'master') {
      throw new ConnectionError(`the sentinels named ${nodeAddress(node)} but it is a ${role}, not a primary`);
    }
  }

  /**
   * The server stopped answering but the socket looks open (a stalled
   * network, a frozen server): drop the socket and connect again, so
   * pending commands fail now and subscriptions are restored.
   */
  async #forceReconnect(): Promise<void> {
    if (this.#forcing || this.#closing) return;
    if (this.#node) {
      const before = this.#switches;
      await this.#follow('stalled');
      if (this.#switches !== before) return;
    }
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
    this.#serverVersion = await checkServer(this.#client, this.options);
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
