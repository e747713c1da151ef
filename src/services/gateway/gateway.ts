import { RELAY_SCOPE } from '../../contracts/names.js';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { Connection } from '../../bus/connection.js';
import { Registry } from '../../bus/registry.js';
import { Subscriber } from '../../bus/subscriber.js';
import { UserCodec, UserMessageValidator } from '../../contracts/user-channels.js';
import { CLOSE, RELAY_PATH } from '../../gateway-protocol/index.js';
import { UserChannelHub, type BackMessage } from './hub.js';
import type { InboundDeps } from './inbound.js';
import { openRelaySession, type SessionContext } from './connect.js';
import { resolveGatewayOptions, type GatewayOptions } from './options.js';
import { RelayTable } from './relays.js';
import type { RelaySession, SessionStats } from './session.js';
import { gatewayCounters, type GatewayStats } from './stats.js';
import { ThrottledWarn } from './throttle.js';
import { TokenStore } from './tokens.js';
import { answerClientError, createGatewayServer, isRefusal, parseRelayRequest, refuseSocket } from './upgrade.js';
import { redisConnectionFromEnv } from '../../config/redis.js';

export type { GatewayStats } from './stats.js';

/** Redis access a service runtime already has. */
export interface GatewayDeps {
  conn: Connection;
  subscriber: Subscriber;
  /** The runtime's registry (with the file fallback); a plain one on `conn` when absent. */
  registry?: Registry;
}

/** Registry scope of connected relays: `identity:relay:{connection id}` (src/contracts/names.ts). */
export { RELAY_SCOPE };

/**
 * `canopy gateway`: a WebSocket server for edge relays that hold no Redis
 * credentials. See src/gateway-protocol for the protocol and
 * {@link GatewayOptions} for the limits.
 */
export class Gateway {
  readonly options: GatewayOptions;
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;
  readonly #conn: Connection;
  #hub: UserChannelHub | undefined;
  readonly #tokens: TokenStore;
  readonly #codec: UserCodec;
  /** Log lines of one kind at most once a second (a flood must not flood the log). */
  readonly #throttled: ThrottledWarn;
  readonly #validator: UserMessageValidator;
  readonly #relays = new RelayTable();
  readonly #counters = gatewayCounters();
  #pingTimer: NodeJS.Timeout | undefined;
  readonly #inbound: InboundDeps;
  /** What a new relay connection needs from the gateway (connect.ts). */
  readonly #session: SessionContext;
  #stopped = false;
  /** Registry writes in flight (awaited on stop). */
  #identities: Promise<unknown>[] = [];

  readonly #sub: Subscriber;
  readonly #registry: Registry;
  /** Connection and subscriber the gateway made itself (closed on stop); none when given a runtime's. */
  readonly #owned: boolean;

  private constructor(options: GatewayOptions, deps: GatewayDeps, owned: boolean, server: http.Server) {
    this.options = options;
    this.#conn = deps.conn;
    this.#sub = deps.subscriber;
    this.#owned = owned;
    this.#registry = deps.registry ?? new Registry(deps.conn);
    this.#server = server;
    this.#tokens = new TokenStore(options.tokens);
    this.#validator = new UserMessageValidator();
    this.#throttled = new ThrottledWarn(options.logger);
    // ws closes bigger messages itself (1009, no reason); up to twice the limit we close with a reason.
    const maxPayload = Math.max(2 * options.maxMessageBytes, options.maxMessageBytes + 65536);
    this.#codec = new UserCodec({ maxDepth: options.maxDepth, maxBytes: maxPayload });
    this.#inbound = {
      options,
      codec: this.#codec,
      validator: this.#validator,
      counters: this.#counters,
      publish: (user, kind, payload, done) => this.#h.publish(user, kind, payload, done),
    };
    this.#session = {
      options,
      codec: this.#codec,
      inbound: this.#inbound,
      relays: this.#relays,
      counters: this.#counters,
      paused: () => this.#paused,
      guarded: (where, fn, onError) => this.#guarded(where, fn, onError),
      warn: (kind, obj, msg) => this.#warn(kind, obj, msg),
      identity: (session, extra) => this.#identity(session, extra),
      forget: (session) => this.#track(this.#registry.remove(RELAY_SCOPE, session.id)),
      replay: (user, resume, max, maxBytes) => this.#h.replay(user, resume, max, maxBytes),
    };
    this.#wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false });
    // a handshake ws cannot complete (no Sec-WebSocket-Key, bad version…): 400, that socket only
    this.#wss.on('wsClientError', (err, socket) => {
      this.#counters.badRequests++;
      refuseSocket(socket, 400, `bad WebSocket handshake: ${err.message}`);
    });
  }

  /**
   * Subscribes to the back-channels and listens. Uses the connection and
   * subscriber of `deps` (a service runtime's) when given; otherwise
   * connects with `options.redis` and owns what it made.
   */
  static async start(opts: Partial<GatewayOptions> = {}, deps?: GatewayDeps): Promise<Gateway> {
    const o = resolveGatewayOptions(opts);
    let d = deps;
    if (!d) {
      const conn = await Connection.connect({
        clientName: 'canopy-gateway',
        logger: o.logger,
        ...redisConnectionFromEnv(),
        ...o.redis,
      });
      conn.on('error', (err) => o.logger.warn({ err: err.message }, 'redis connection error'));
      try {
        d = { conn, subscriber: await Subscriber.create(conn, { logger: o.logger }) };
      } catch (err) {
        await conn.close();
        throw err;
      }
    }
    const server = createGatewayServer(o);
    const gw = new Gateway(o, d, !deps, server);
    try {
      gw.#hub = await UserChannelHub.start(d.conn, d.subscriber, {
        windowMs: o.backlogWindowMs,
        isKnownUser: (u) => gw.#tokens.has(u),
        codec: gw.#codec,
        validator: gw.#validator,
        logger: o.logger,
        onBack: (m) => gw.#onBack(m),
        maxInFlight: o.maxInFlight,
        maxInFlightBytes: o.maxInFlightBytes,
        onPressure: (high) => gw.#pressure(high),
      });
      server.on('request', (req, res) =>
        gw.#guarded(
          'request',
          () => gw.#onRequest(req, res),
          () => res.destroy(),
        ),
      );
      server.on('upgrade', (req, socket: Duplex, head: Buffer) =>
        gw.#guarded(
          'upgrade',
          () => gw.#onUpgrade(req, socket, head),
          () => refuseSocket(socket, 500, 'internal error'),
        ),
      );
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => gw.#onClientError(err, socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(o.port, o.host, () => {
          server.off('error', reject);
          // after listening (e.g. EMFILE on accept): log, keep serving the connections it has
          server.on('error', (err) => o.logger.error({ err: err.message }, 'gateway server error'));
          resolve();
        });
      });
    } catch (err) {
      server.close();
      await gw.#hub?.close();
      if (!deps) {
        await d.subscriber.close();
        await d.conn.close();
      }
      throw err;
    }
    gw.#pingTimer = setInterval(() => gw.#ping(), o.pingIntervalMs);
    gw.#pingTimer.unref();
    o.logger.info({ host: o.host, port: gw.port, users: gw.#tokens.users.length }, 'gateway listening');
    return gw;
  }

  get #h(): UserChannelHub {
    return this.#hub!;
  }

  /** The port it listens on (useful with port 0). */
  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a ? a.port : this.options.port;
  }

  /** `ws://host:port` for relays. */
  get url(): string {
    return `ws://${this.options.host}:${this.port}`;
  }

  get stats(): GatewayStats {
    return { ...this.#h.stats, backMalformed: this.#h.malformed, ...this.#counters, connections: this.#relays.size };
  }

  /** Per-connection counters, for /health. */
  sessions(): Array<{ id: string; user: string; stats: SessionStats }> {
    return [...this.#relays].map((s) => ({ id: s.id, user: s.user, stats: s.stats }));
  }

  /** Closes every connection of one user (1013 + reason), e.g. after its token was revoked. Returns how many. */
  disconnectUser(user: string, reason = 'disconnected by the operator'): number {
    const all = this.#relays.forUser(user);
    for (const s of all) s.close(CLOSE.tryAgain, reason);
    return all.length;
  }

  /** Closes every relay (1001), stops listening, closes Redis. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#pingTimer);
    for (const s of this.#relays) s.close(CLOSE.goingAway, 'gateway stopping');
    this.#wss.close();
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await this.#h.close();
    await Promise.all(this.#identities.map((p) => p.catch(() => undefined)));
    if (this.#owned) {
      await this.#sub.close();
      await this.#conn.close();
    }
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') {
      const redis = this.#h.health;
      const body = JSON.stringify({ status: redis === 'ready' ? 'ok' : 'degraded', redis, stats: this.stats });
      res.writeHead(redis === 'ready' ? 200 : 503, { 'content-type': 'application/json' }).end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found; relays connect to ${RELAY_PATH}/<user>\n`);
  }

  /**
   * Runs one handler of outside input; an exception closes only what
   * `onError` closes (that socket or connection), is counted and logged.
   */
  #guarded(where: string, fn: () => void, onError: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#counters.handlerErrors++;
      this.#warn(
        'handlerError',
        { where, err: (err as Error).message },
        'gateway handler failed; closing that connection',
      );
      try {
        onError();
      } catch {
        // already closed
      }
    }
  }

  /** A request Node's HTTP parser refused (bad request line, header overflow, timeout): 400/431/408, that socket only. */
  #onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    this.#counters.badRequests++;
    answerClientError(err, socket);
  }

  #refuse(socket: Duplex, status: number, reason: string): void {
    this.#counters.refusedUpgrades++;
    refuseSocket(socket, status, reason);
  }

  #warn(kind: string, obj: Record<string, unknown>, msg: string): void {
    this.#throttled.warn(kind, obj, msg);
  }

  #onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    if (this.#stopped) return this.#refuse(socket, 503, 'gateway stopping');
    const r = parseRelayRequest(req.url, req.headers.authorization, (u, t) => this.#tokens.verify(u, t));
    if (isRefusal(r)) {
      if (r.status === 401) {
        this.#counters.authFailures++;
        this.#warn(
          'auth',
          { remote: req.socket.remoteAddress, hasToken: typeof req.headers.authorization === 'string' },
          'relay authentication failed',
        );
      } else if (r.status === 400 || r.status === 414) this.#counters.badRequests++;
      return this.#refuse(socket, r.status, r.reason);
    }
    const { user, codec, resume } = r;
    if (this.#relays.count(user) >= this.options.maxConnectionsPerUser) {
      return this.#refuse(
        socket,
        429,
        `too many connections for ${user} (limit ${this.options.maxConnectionsPerUser})`,
      );
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) =>
      this.#guarded(
        'connection',
        () => openRelaySession(this.#session, ws, req, user, codec, resume),
        () => ws.terminate(),
      ),
    );
  }

  #onBack(m: BackMessage): void {
    for (const s of this.#relays.forUser(m.user)) {
      this.#guarded(
        'deliver',
        () => {
          const before = s.stats.delivered;
          s.deliver(m);
          if (s.stats.delivered > before) this.#counters.delivered++;
        },
        () => s.close(CLOSE.internal, 'internal error'),
      );
    }
  }

  #paused = false;

  /**
   * Backpressure: while too many relay messages wait for Redis, stop reading
   * every relay socket (TCP pushes back to the relays, whose clients queue,
   * bounded) instead of piling up work until commands time out.
   */
  #pausedAt = 0;

  #pressure(high: boolean): void {
    this.#paused = high;
    const pausedMs = high ? 0 : performance.now() - this.#pausedAt;
    if (high) this.#pausedAt = performance.now();
    if (high) this.#counters.backpressure++;
    this.options.logger.warn(
      { inFlight: this.#h.inFlight, paused: high },
      high ? 'Redis is behind: pausing relays' : 'resuming relays',
    );
    for (const s of this.#relays) {
      if (high) s.ws.pause();
      else {
        s.limiter.credit(pausedMs);
        s.ws.resume();
      }
    }
  }

  /** `identity:relay:{connection}`: who is connected, from where, and its counters (TTL as the registry's). */
  #identity(s: RelaySession, extra: Record<string, unknown>): void {
    this.#track(this.#registry.touch(RELAY_SCOPE, s.id, { user: s.user, ...s.stats, ...extra }));
  }

  #track(p: Promise<unknown>): void {
    const q = p.catch((err: unknown) =>
      this.options.logger.debug({ err: (err as Error).message }, 'relay identity not written'),
    );
    this.#identities.push(q);
    void q.finally(() => (this.#identities = this.#identities.filter((x) => x !== q)));
  }

  #ping(): void {
    for (const s of this.#relays) {
      if (!s.alive) {
        s.ws.terminate();
        continue;
      }
      s.alive = false;
      this.#guarded(
        'ping',
        () => {
          s.ws.ping();
          this.#identity(s, {});
        },
        () => s.ws.terminate(),
      );
    }
  }
}
