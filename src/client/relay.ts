import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { BusLogger } from '../bus/log.js';
import { silentLogger } from '../bus/log.js';
import { backoffDelay } from '../bus/options.js';
import {
  UserCodec,
  checkUserId,
  isUserCodecName,
  type AlertMessage,
  type BackKind,
  type CommandMessage,
  type FeaturesMessage,
  type PredictionMessage,
  type RawMessage,
  type UserCodecName,
} from '../contracts/user-channels.js';
import { RELAY_PATH, type ErrorFrame, type ServerFrame, type WelcomeFrame } from '../gateway-protocol/index.js';
import { GatewayError } from './errors.js';

/** How an edge relay reaches the gateway. */
export interface RelayClientOptions {
  /** Gateway base URL, e.g. `ws://127.0.0.1:8765` (`wss://` behind TLS). */
  url: string;
  user: string;
  /** The user's relay token (from the environment or a 0600 file; never logged). */
  token: string;
  /** @defaultValue `msgpack` — encoding of what the relay sends and asks to receive. */
  codec: UserCodecName;
  /** @defaultValue 250 — first reconnect delay; doubles per attempt, with jitter. */
  reconnectBaseMs: number;
  /** @defaultValue 10000 — ceiling of the reconnect delay. */
  reconnectMaxMs: number;
  /** @defaultValue 10000 — messages kept while disconnected; beyond that the oldest are dropped and counted. */
  maxQueued: number;
  /**
   * @defaultValue 4 MiB — bytes allowed to wait in the socket; above it
   * messages wait in the queue instead (so a stalled link never grows memory
   * without bound).
   */
  maxBufferedBytes: number;
  /** @defaultValue 5000 — time allowed for one connection attempt. */
  connectTimeoutMs: number;
  /** @defaultValue true — ask for what was published while away (resume from the last id seen). */
  resume: boolean;
  /** @defaultValue none — a backlog id saved by an earlier client (its `lastId`), to resume across restarts. */
  resumeFrom?: string;
  /** @defaultValue silent */
  logger: BusLogger;
}

export const RELAY_CLIENT_DEFAULTS: Omit<RelayClientOptions, 'url' | 'user' | 'token'> = {
  codec: 'msgpack',
  reconnectBaseMs: 250,
  reconnectMaxMs: 10_000,
  maxQueued: 10_000,
  maxBufferedBytes: 4 * 1024 * 1024,
  connectTimeoutMs: 5000,
  resume: true,
  logger: silentLogger,
};

export interface RelayClientStats {
  sent: number;
  dropped: number;
  received: number;
  rejected: number;
  connects: number;
}

export interface RelayClientEvents {
  /** Connected and authenticated (after every reconnect). */
  welcome: [frame: WelcomeFrame];
  /** Any back-channel message; `id` is its backlog id. */
  message: [kind: BackKind, message: Record<string, unknown>, id: string | null];
  prediction: [message: PredictionMessage, id: string | null];
  command: [message: CommandMessage, id: string | null];
  alert: [message: AlertMessage, id: string | null];
  /** The gateway refused one message (the connection stays). */
  rejected: [frame: ErrorFrame];
  disconnected: [code: number, reason: string];
  /** A fatal error (bad token, bad URL): the client stops. */
  error: [err: GatewayError];
}

const EVENT_OF: Record<BackKind, 'prediction' | 'command' | 'alert'> = {
  predictions: 'prediction',
  commands: 'command',
  alerts: 'alert',
};

/**
 * The edge-relay side: publishes raw and features messages through the
 * gateway and receives predictions, commands and alerts. Reconnects by
 * itself (exponential backoff with jitter) and resumes from the last
 * message it saw; what is sent while disconnected is queued (bounded).
 */
export class RelayClient extends EventEmitter<RelayClientEvents> {
  readonly options: RelayClientOptions;
  readonly stats: RelayClientStats = { sent: 0, dropped: 0, received: 0, rejected: 0, connects: 0 };
  readonly #codec = new UserCodec();
  #ws: WebSocket | undefined;
  #ready = false;
  #queue: Buffer[] = [];
  #lastId: string | undefined;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: Partial<RelayClientOptions> & Pick<RelayClientOptions, 'url' | 'user' | 'token'>) {
    super();
    const o = { ...RELAY_CLIENT_DEFAULTS, ...opts };
    checkUserId(o.user);
    if (!/^wss?:\/\//.test(o.url)) throw new GatewayError('GATEWAY_CONFIG', `gateway url must be ws:// or wss://`);
    if (!isUserCodecName(o.codec)) throw new GatewayError('GATEWAY_CONFIG', `codec must be msgpack or json`);
    this.options = o;
    this.#lastId = o.resumeFrom;
  }

  /**
   * Starts a client and resolves at its first welcome (rejects on a fatal
   * refusal such as a bad token). Listeners attached after this resolves
   * may miss a replayed backlog: to get it, use `new RelayClient(…)`, attach
   * listeners, then `await start()`.
   */
  static async connect(opts: ConstructorParameters<typeof RelayClient>[0]): Promise<RelayClient> {
    const c = new RelayClient(opts);
    await c.start();
    return c;
  }

  /**
   * Begins connecting (and reconnecting until {@link close}); resolves at the
   * first welcome, rejects with a {@link GatewayError} when refused for good.
   */
  start(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      const onErr = (e: GatewayError) => {
        this.off('welcome', onOk);
        reject(e);
      };
      const onOk = () => {
        this.off('error', onErr);
        resolve();
      };
      this.once('error', onErr);
      this.once('welcome', onOk);
    });
    if (this.#closed) return Promise.reject(new GatewayError('GATEWAY_CLOSED', 'relay client is closed'));
    if (this.#ready) return Promise.resolve();
    if (!this.#ws) this.#open();
    return p;
  }

  get connected(): boolean {
    return this.#ready;
  }

  /** The id of the last back-channel message received. */
  get lastId(): string | undefined {
    return this.#lastId;
  }

  /** Messages waiting for a connection. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Sends a raw or features message; queued while disconnected. False when it had to drop one. */
  send(message: RawMessage | FeaturesMessage | (Record<string, unknown> & { type: string })): boolean {
    if (this.#closed) throw new GatewayError('GATEWAY_CLOSED', 'relay client is closed');
    return this.sendEncoded(this.#codec.encode(message, this.options.codec));
  }

  /** `{"type":"raw","timestamp":…,"channels":{…}}`; timestamp defaults to now (unix seconds). */
  sendRaw(channels: RawMessage['channels'], timestamp: RawMessage['timestamp'] = Date.now() / 1000): boolean {
    return this.send({ type: 'raw', timestamp, channels });
  }

  sendFeatures(features: FeaturesMessage['features'], timestamp: FeaturesMessage['timestamp'] = Date.now() / 1000) {
    return this.send({ type: 'features', timestamp, features });
  }

  /** Sends bytes as they are (already encoded); for tests and benchmarks. */
  sendEncoded(payload: Buffer): boolean {
    if (this.#queue.length > 0) this.#flush();
    if (this.#queue.length === 0 && this.#writable()) {
      this.#write(payload);
      return true;
    }
    this.#queue.push(payload);
    this.#scheduleFlush();
    if (this.#queue.length > this.options.maxQueued) {
      this.#queue.shift();
      this.stats.dropped++;
      return false;
    }
    return true;
  }

  #writable(): boolean {
    const ws = this.#ws;
    return (
      this.#ready &&
      ws !== undefined &&
      ws.readyState === WebSocket.OPEN &&
      ws.bufferedAmount < this.options.maxBufferedBytes
    );
  }

  #write(payload: Buffer): void {
    this.#ws!.send(payload, { binary: this.options.codec === 'msgpack' || payload[0] !== 0x7b });
    this.stats.sent++;
  }

  /** Sends queued messages, in order, while the socket takes them. */
  #flush(): void {
    let i = 0;
    while (i < this.#queue.length && this.#writable()) this.#write(this.#queue[i++]!);
    if (i > 0) this.#queue = this.#queue.slice(i);
  }

  #flushTimer: NodeJS.Timeout | undefined;

  #scheduleFlush(): void {
    if (this.#flushTimer || this.#closed) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flush();
      if (this.#queue.length > 0 && this.#ready) this.#scheduleFlush();
    }, 20);
    this.#flushTimer.unref?.();
  }

  /** Stops reconnecting and closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#flushTimer);
    const ws = this.#ws;
    this.#ws = undefined;
    this.#ready = false;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'relay closing');
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000).unref();
    });
  }

  #open(): void {
    const o = this.options;
    const u = new URL(`${o.url.replace(/\/$/, '')}${RELAY_PATH}/${encodeURIComponent(o.user)}`);
    u.searchParams.set('codec', o.codec);
    if (o.resume && this.#lastId) u.searchParams.set('resume', this.#lastId);
    const ws = new WebSocket(u, {
      headers: { authorization: `Bearer ${o.token}` },
      handshakeTimeout: o.connectTimeoutMs,
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
    });
    this.#ws = ws;
    ws.on('unexpected-response', (_req, res: IncomingMessage) => this.#refused(ws, res));
    ws.on('message', (data: Buffer) => this.#onFrame(data));
    ws.on('error', (err) => o.logger.debug({ err: err.message }, 'gateway connection error'));
    ws.on('close', (code, reason) => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      const wasReady = this.#ready;
      this.#ready = false;
      if (wasReady) this.emit('disconnected', code, reason.toString());
      if (!this.#closed) this.#scheduleReconnect();
    });
  }

  #refused(ws: WebSocket, res: IncomingMessage): void {
    let body = '';
    res.setEncoding('utf8');
    // keep the first 500 characters of the refusal, however much the server sends
    res.on('data', (c: string) => {
      if (body.length < 500) body += c.slice(0, 500 - body.length);
    });
    res.on('end', () => {
      const status = res.statusCode ?? 0;
      const text = `gateway refused the connection: HTTP ${status} ${body.trim()}`;
      if (status === 401 || status === 400 || status === 404) {
        this.#closed = true;
        this.#ws = undefined;
        ws.terminate();
        const code = status === 401 ? 'GATEWAY_AUTH' : 'GATEWAY_REFUSED';
        this.emit('error', new GatewayError(code, text, { status }));
        return;
      }
      this.options.logger.warn({ status }, text);
      ws.terminate();
    });
  }

  #scheduleReconnect(): void {
    this.#attempt++;
    const delay = backoffDelay(this.#attempt, this.options.reconnectBaseMs, this.options.reconnectMaxMs);
    this.#timer = setTimeout(() => {
      if (!this.#closed) this.#open();
    }, delay);
    this.#timer.unref?.();
  }

  #onFrame(data: Buffer): void {
    let frame: ServerFrame;
    try {
      frame = this.#codec.decode(data).value as ServerFrame;
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'undecodable frame from the gateway');
      return;
    }
    if (typeof frame !== 'object' || frame === null || typeof frame.type !== 'string') {
      this.options.logger.warn({}, 'frame from the gateway without a type ignored');
      return;
    }
    if (frame.type === 'deliver' && (typeof frame.message !== 'object' || frame.message === null)) {
      this.options.logger.warn({}, 'deliver frame without a message ignored');
      return;
    }
    if (frame.type === 'welcome') {
      this.#ready = true;
      this.#attempt = 0;
      this.stats.connects++;
      this.#flush();
      if (this.#queue.length > 0) this.#scheduleFlush();
      this.emit('welcome', frame);
    } else if (frame.type === 'deliver') {
      this.stats.received++;
      if (frame.id) this.#lastId = frame.id;
      this.emit('message', frame.kind, frame.message, frame.id);
      const ev = EVENT_OF[frame.kind];
      if (ev) (this.emit as (e: string, ...a: unknown[]) => boolean)(ev, frame.message, frame.id);
    } else if (frame.type === 'error') {
      this.stats.rejected++;
      this.emit('rejected', frame);
    }
  }
}
