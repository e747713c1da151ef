import crypto from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { Connection } from '../../bus/connection.js';
import { Registry } from '../../bus/registry.js';
import { Subscriber } from '../../bus/subscriber.js';
import { DecodeLimitError } from '../../bus/decode-limits.js';
import { UserCodec, UserMessageValidator, type ForwardKind, type UserCodecName } from '../../bus/userchannels.js';
import { CLOSE, RELAY_PATH, type ErrorFrame, type WelcomeFrame } from '../../gateway-protocol/index.js';
import { UserChannelHub, type BackMessage, type HubStats } from './hub.js';
import { resolveGatewayOptions, type GatewayOptions } from './options.js';
import { RelaySession, type SessionStats } from './session.js';
import { TokenStore } from './tokens.js';
import { isRefusal, parseRelayRequest, refuseSocket } from './upgrade.js';

/** Redis access a service runtime already has. */
export interface GatewayDeps {
  conn: Connection;
  subscriber: Subscriber;
}

/** Gateway-wide counters. */
export interface GatewayStats extends HubStats {
  /** Back-channel messages refused by the subscriber (undecodable or not matching their shape). */
  backMalformed: number;
  connections: number;
  connectionsTotal: number;
  authFailures: number;
  refusedUpgrades: number;
  received: number;
  rejectedMalformed: number;
  rejectedInvalid: number;
  /** Messages over a decode limit (nesting depth, a length header beyond the message): error code `limit`. */
  rejectedLimit: number;
  /** HTTP requests that could not be parsed (bad request line, URL or headers): answered 400, socket closed. */
  badRequests: number;
  /** Exceptions caught in a per-connection or per-message handler (the connection is closed with 1011). */
  handlerErrors: number;
  closedRate: number;
  closedTooBig: number;
  closedSlow: number;
  delivered: number;
  replayed: number;
  /** Times relays were paused because Redis fell behind. */
  backpressure: number;
}

/** Registry scope of connected relays: `identity:relay:{connection id}`. */
export const RELAY_SCOPE = 'relay';

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
  readonly #validator: UserMessageValidator;
  readonly #sessions = new Map<string, Set<RelaySession>>();
  readonly #counters = {
    connectionsTotal: 0,
    authFailures: 0,
    refusedUpgrades: 0,
    received: 0,
    rejectedMalformed: 0,
    rejectedInvalid: 0,
    rejectedLimit: 0,
    badRequests: 0,
    handlerErrors: 0,
    closedRate: 0,
    closedTooBig: 0,
    closedSlow: 0,
    delivered: 0,
    replayed: 0,
    backpressure: 0,
  };
  #pingTimer: NodeJS.Timeout | undefined;
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
    this.#registry = new Registry(deps.conn);
    this.#server = server;
    this.#tokens = new TokenStore(options.tokens);
    this.#validator = new UserMessageValidator();
    // ws closes bigger messages itself (1009, no reason); up to twice the limit we close with a reason.
    const maxPayload = Math.max(2 * options.maxMessageBytes, options.maxMessageBytes + 65536);
    this.#codec = new UserCodec({ maxDepth: options.maxDepth, maxBytes: maxPayload });
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
      const conn = await Connection.connect({ clientName: 'canopy-gateway', logger: o.logger, ...o.redis });
      conn.on('error', (err) => o.logger.warn({ err: err.message }, 'redis connection error'));
      try {
        d = { conn, subscriber: await Subscriber.create(conn, { logger: o.logger }) };
      } catch (err) {
        await conn.close();
        throw err;
      }
    }
    const server = http.createServer({
      headersTimeout: o.handshakeTimeoutMs,
      requestTimeout: o.handshakeTimeoutMs,
      // how often Node looks for requests past those timeouts (its default, 30 s, would let them hang that long)
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(o.handshakeTimeoutMs / 4))),
      maxHeaderSize: 16 * 1024,
    });
    server.maxConnections = o.maxConnections;
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
    let connections = 0;
    for (const s of this.#sessions.values()) connections += s.size;
    return { ...this.#h.stats, backMalformed: this.#h.malformed, ...this.#counters, connections };
  }

  /** Per-connection counters, for /health. */
  sessions(): Array<{ id: string; user: string; stats: SessionStats }> {
    const out: Array<{ id: string; user: string; stats: SessionStats }> = [];
    for (const set of this.#sessions.values())
      for (const s of set) out.push({ id: s.id, user: s.user, stats: s.stats });
    return out;
  }

  /** Closes every connection of one user (1013 + reason), e.g. after its token was revoked. Returns how many. */
  disconnectUser(user: string, reason = 'disconnected by the operator'): number {
    const set = this.#sessions.get(user);
    if (!set) return 0;
    for (const s of set) s.close(CLOSE.tryAgain, reason);
    return set.size;
  }

  /** Closes every relay (1001), stops listening, closes Redis. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#pingTimer);
    for (const set of this.#sessions.values()) for (const s of set) s.close(CLOSE.goingAway, 'gateway stopping');
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
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    refuseSocket(
      socket,
      status,
      status === 431 ? 'headers too large' : status === 408 ? 'request timeout' : 'bad request',
      1000,
    );
  }

  #refuse(socket: Duplex, status: number, reason: string): void {
    this.#counters.refusedUpgrades++;
    refuseSocket(socket, status, reason);
  }

  /** Log lines of one kind at most once a second, with how many were left out (a flood must not flood the log). */
  readonly #lastLog = new Map<string, { at: number; skipped: number }>();

  #warn(kind: string, obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const l = this.#lastLog.get(kind);
    if (l && now - l.at < 1000) {
      l.skipped++;
      return;
    }
    this.#lastLog.set(kind, { at: now, skipped: 0 });
    this.options.logger.warn(l && l.skipped > 0 ? { ...obj, alsoSince: l.skipped } : obj, msg);
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
    const count = this.#sessions.get(user)?.size ?? 0;
    if (count >= this.options.maxConnectionsPerUser) {
      return this.#refuse(
        socket,
        429,
        `too many connections for ${user} (limit ${this.options.maxConnectionsPerUser})`,
      );
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) =>
      this.#guarded(
        'connection',
        () => this.#onConnection(ws, req, user, codec, resume),
        () => ws.terminate(),
      ),
    );
  }

  #onConnection(ws: WebSocket, req: http.IncomingMessage, user: string, codec: UserCodecName, resume?: string): void {
    const o = this.options;
    const session = new RelaySession(
      crypto.randomBytes(6).toString('hex'),
      user,
      ws,
      codec,
      this.#codec,
      {
        ratePerSecond: o.ratePerSecond,
        rateBurst: o.rateBurst,
        maxBufferedBytes: o.maxBufferedBytes,
        maxPending: o.backlogMaxReplay,
      },
      resume,
    );
    let set = this.#sessions.get(user);
    if (!set) this.#sessions.set(user, (set = new Set()));
    set.add(session);
    this.#counters.connectionsTotal++;
    const log = o.logger;
    log.info({ user, connection: session.id, remote: req.socket.remoteAddress, codec, resume }, 'relay connected');
    this.#identity(session, { remote: req.socket.remoteAddress, codec, connected_at: new Date().toISOString() });
    ws.on('pong', () => (session.alive = true));
    ws.on('message', (data: Buffer) =>
      this.#guarded(
        'message',
        () => this.#onRelayMessage(session, data),
        () => session.close(CLOSE.internal, 'internal error'),
      ),
    );
    if (this.#paused) ws.pause();
    ws.on('error', (err) =>
      this.#warn('socket', { user, connection: session.id, err: err.message }, 'relay socket error'),
    );
    ws.on('close', (code, reason) => {
      set.delete(session);
      if (set.size === 0 && this.#sessions.get(user) === set) this.#sessions.delete(user);
      session.closed();
      if (session.slow) this.#counters.closedSlow++;
      this.#track(this.#registry.remove(RELAY_SCOPE, session.id));
      log.info(
        { user, connection: session.id, code, reason: reason.toString(), ...session.stats },
        'relay disconnected',
      );
    });
    const welcome = (replayed: number): WelcomeFrame => ({
      type: 'welcome',
      user,
      connection: session.id,
      replayed,
      limits: { maxMessageBytes: o.maxMessageBytes, ratePerSecond: o.ratePerSecond, rateBurst: o.rateBurst },
    });
    if (resume === undefined) {
      session.send(welcome(0));
      return;
    }
    this.#h.replay(user, resume, o.backlogMaxReplay).then(
      (backlog) => {
        session.send(welcome(backlog.length));
        session.finishReplay(backlog);
        this.#counters.replayed += backlog.length;
      },
      (err: unknown) => {
        log.warn({ user, connection: session.id, err: (err as Error).message }, 'backlog replay failed');
        session.send({ type: 'error', code: 'unavailable', error: 'backlog unavailable; live messages only' });
        session.send(welcome(0));
        session.finishReplay([]);
      },
    );
  }

  #onRelayMessage(s: RelaySession, data: Buffer): void {
    if (s.closing) return;
    this.#counters.received++;
    s.stats.received++;
    if (!s.limiter.take()) {
      this.#counters.closedRate++;
      this.options.logger.warn({ user: s.user, connection: s.id }, 'relay over its rate limit; closing');
      s.close(CLOSE.policy, `rate limit exceeded: more than ${s.limiter.rate} messages/s (burst ${s.limiter.burst})`);
      return;
    }
    if (data.length > this.options.maxMessageBytes) {
      this.#counters.closedTooBig++;
      s.close(CLOSE.tooBig, `message too big: ${data.length} bytes, limit ${this.options.maxMessageBytes}`);
      return;
    }
    let value: unknown;
    let codec: UserCodecName;
    try {
      ({ value, codec } = this.#codec.decode(data));
    } catch (err) {
      this.#reject(s, err instanceof DecodeLimitError ? 'limit' : 'malformed', (err as Error).message);
      return;
    }
    const type = (value as { type?: unknown } | null)?.type;
    const kind: ForwardKind | undefined = type === 'raw' ? 'raw' : type === 'features' ? 'features' : undefined;
    if (!kind) {
      this.#reject(s, 'invalid', `type must be "raw" or "features", got ${JSON.stringify(type) ?? 'nothing'}`);
      return;
    }
    const r = this.#validator.validate(kind, value);
    if (!r.ok) {
      this.#reject(s, 'invalid', r.error);
      return;
    }
    const payload = codec === this.options.publishCodec ? data : this.#codec.encode(value, this.options.publishCodec);
    this.#h.publish(s.user, kind, payload, (ok) => {
      if (ok) s.stats.published++;
      else s.unpublished();
    });
  }

  #reject(s: RelaySession, code: ErrorFrame['code'], error: string): void {
    s.stats.rejected++;
    if (code === 'malformed') this.#counters.rejectedMalformed++;
    else if (code === 'limit') this.#counters.rejectedLimit++;
    else this.#counters.rejectedInvalid++;
    s.send({ type: 'error', code, error });
  }

  #onBack(m: BackMessage): void {
    const set = this.#sessions.get(m.user);
    if (!set) return;
    for (const s of set) {
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
    for (const set of this.#sessions.values()) {
      for (const s of set) {
        if (high) s.ws.pause();
        else {
          s.limiter.credit(pausedMs);
          s.ws.resume();
        }
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
    for (const set of this.#sessions.values()) {
      for (const s of set) {
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
}
