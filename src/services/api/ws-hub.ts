import type { WebSocket } from 'ws';
import type { Logger } from '../../util/log.js';
import type { Identity, Refusal } from './auth.js';
import type { DeviceUpdate, SensorUpdate } from '../../contracts/updates.js';
import type { UserFeed } from './user-feed.js';
import { parseClientMessage } from './ws-messages.js';

/** Which updates a client wants; an unset field matches everything. */
export interface ClientFilter {
  location?: string | undefined;
  cluster?: string | undefined;
}

/** How the hub treats slow clients. */
export interface HubOptions {
  /** @defaultValue 1 MiB — above this many unsent bytes a client gets coalesced updates. */
  maxBufferedBytes: number;
  /** @defaultValue 5000 — distinct sensors/devices kept for a lagging client; the oldest is dropped beyond. */
  maxPending: number;
  /** @defaultValue 50 — retry interval (ms) of a lagging client's queue. */
  flushIntervalMs: number;
  /** @defaultValue 30000 — ping interval; a client that has not answered the previous ping is dropped. */
  pingIntervalMs: number;
  /** @defaultValue 500 — clients at once (the route refuses more). */
  maxClients: number;
  /** @defaultValue 5000 — a client that must authenticate is closed when it has not within this long. */
  authTimeoutMs: number;
  /** @defaultValue 20 — refused messages a client may send before it is closed (1008). */
  maxBadMessages: number;
}

/** Checks a token a client sent: its identity, or why not. */
export type Authenticate = (token: string) => Identity | Refusal;

/** Why a client was closed or a message refused (counted). */
export type WsRejection =
  | 'binary'
  | 'too_deep'
  | 'not_json'
  | 'unknown'
  | 'invalid'
  | 'auth_failed'
  | 'auth_timeout'
  | 'unauthenticated'
  | 'too_many_bad'
  | 'not_reading'
  | 'handler_error'
  | 'protocol_error';

export interface HubStats {
  clients: number;
  /** Messages written to sockets. */
  sent: number;
  /** Updates merged into a lagging client's queue instead of being sent. */
  coalesced: number;
  /** Queue entries dropped because a lagging client's queue was full. */
  dropped: number;
  /** Refused messages and closed clients, by reason. */
  rejected: Partial<Record<WsRejection, number>>;
}

type Pending =
  | { kind: 'sensor'; location: string; cluster: string; name: string; value: number; timestamp: string }
  | { kind: 'device'; update: DeviceUpdate };

interface Client {
  ws: WebSocket;
  filter: ClientFilter;
  /** Latest value per sensor/device while the client lags; insertion order = age. */
  pending: Map<string, Pending>;
  timer: NodeJS.Timeout | undefined;
  /** Answered the last ping. */
  alive: boolean;
  /** Receives updates: reads are open or it presented a valid token. */
  authed: boolean;
  /** The token's name when it presented one. */
  who: string | undefined;
  /** Closes the client when it has not authenticated in time. */
  authTimer: NodeJS.Timeout | undefined;
  /** Refused messages so far. */
  bad: number;
  hello: () => unknown;
}

function matches(f: ClientFilter, location: string, cluster: string): boolean {
  return (f.location === undefined || f.location === location) && (f.cluster === undefined || f.cluster === cluster);
}

/**
 * Fans updates out to WebSocket clients. A message is serialised once and
 * written to every matching socket without waiting for any of them. A client
 * whose socket has more than `maxBufferedBytes` unsent gets nothing new
 * written: its updates go to a bounded queue holding only the latest value
 * per sensor (and per device), flushed when its socket drains. So one slow
 * client never delays the others and never makes the server's memory grow.
 */
export class WsHub {
  readonly options: HubOptions;
  readonly #clients = new Set<Client>();
  readonly #log: Logger;
  #sent = 0;
  #coalesced = 0;
  #dropped = 0;
  #closed = false;
  readonly #rejected: Partial<Record<WsRejection, number>> = {};
  readonly #pinger: NodeJS.Timeout;
  readonly #authenticate: Authenticate;
  /** The per-user live feed (`{"type":"subscribe","user":…}`); set by the service. */
  users: Pick<UserFeed, 'message' | 'drop'> | undefined;

  constructor(options: HubOptions, log: Logger, authenticate: Authenticate) {
    this.options = options;
    this.#log = log;
    this.#authenticate = authenticate;
    this.#pinger = setInterval(() => this.#ping(), options.pingIntervalMs);
    this.#pinger.unref();
  }

  /** Drops clients that did not answer the previous ping (phones that went away), pings the rest. */
  #ping(): void {
    for (const c of [...this.#clients]) {
      if (!c.alive) {
        c.ws.terminate();
        this.#remove(c);
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  get stats(): HubStats {
    return {
      clients: this.#clients.size,
      sent: this.#sent,
      coalesced: this.#coalesced,
      dropped: this.#dropped,
      rejected: { ...this.#rejected },
    };
  }

  /** No room for another client (the route answers 503). */
  get full(): boolean {
    return this.#clients.size >= this.options.maxClients;
  }

  /** Counts a rejection (also used by the route for refusals before the upgrade). */
  reject(reason: WsRejection): void {
    this.#rejected[reason] = (this.#rejected[reason] ?? 0) + 1;
  }

  /**
   * Adopts a connected socket. An authenticated (or open-read) client gets
   * `hello` at once; otherwise its first message must be
   * `{"type":"auth","token":…}` within `authTimeoutMs`, and it gets nothing
   * before.
   */
  add(ws: WebSocket, filter: ClientFilter, hello: () => unknown, auth: { authed: boolean; who?: string }): void {
    if (this.#closed) {
      ws.close(1001, 'server shutting down');
      return;
    }
    const c: Client = {
      ws,
      filter,
      pending: new Map(),
      timer: undefined,
      alive: true,
      authed: auth.authed,
      who: auth.who,
      authTimer: undefined,
      bad: 0,
      hello,
    };
    this.#clients.add(c);
    ws.on('pong', () => (c.alive = true));
    ws.on('message', (data, isBinary) => {
      try {
        this.#onClientMessage(c, data, isBinary);
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'websocket message handler failed');
        this.#drop(c, 'handler_error', 1011, 'internal error');
      }
    });
    ws.on('close', () => this.#remove(c));
    ws.on('error', (err) => {
      // bad frames, invalid UTF-8, oversized messages: the library closes the socket
      this.reject('protocol_error');
      this.#log.debug({ err: err.message }, 'websocket client error');
      this.#remove(c);
    });
    if (c.authed) this.#hello(c);
    else {
      c.authTimer = setTimeout(
        () => this.#drop(c, 'auth_timeout', 1008, 'no token within the time allowed'),
        this.options.authTimeoutMs,
      );
      c.authTimer.unref();
    }
  }

  #hello(c: Client): void {
    this.#write(c, JSON.stringify({ type: 'hello', filter: c.filter, ...(c.hello() as object) }));
  }

  #drop(c: Client, reason: WsRejection, code: number, why: string): void {
    this.reject(reason);
    // a close reason is at most 123 bytes
    if (c.ws.readyState === c.ws.OPEN) c.ws.close(code, Buffer.from(why).subarray(0, 120).toString());
    else c.ws.terminate();
    this.#remove(c);
  }

  /** Forwards a validated sensor update (serialised once for every client). */
  sensor(u: SensorUpdate): void {
    let frame: Buffer | undefined;
    for (const c of this.#clients) {
      if (!c.authed || !matches(c.filter, u.location, u.cluster)) continue;
      if (c.pending.size === 0 && c.ws.bufferedAmount <= this.options.maxBufferedBytes) {
        frame ??= Buffer.from(JSON.stringify({ type: 'sensor', data: u }));
        this.#write(c, frame);
        continue;
      }
      for (const [name, value] of Object.entries(u.sensor_data)) {
        this.#queue(c, `s\u0000${u.location}\u0000${u.cluster}\u0000${name}`, {
          kind: 'sensor',
          location: u.location,
          cluster: u.cluster,
          name,
          value,
          timestamp: u.timestamp,
        });
      }
    }
  }

  /** Forwards a validated device update. */
  device(u: DeviceUpdate): void {
    let frame: Buffer | undefined;
    for (const c of this.#clients) {
      if (!c.authed || !matches(c.filter, u.location, u.cluster)) continue;
      if (c.pending.size === 0 && c.ws.bufferedAmount <= this.options.maxBufferedBytes) {
        frame ??= Buffer.from(JSON.stringify({ type: 'device', data: u }));
        this.#write(c, frame);
        continue;
      }
      this.#queue(c, `d\u0000${u.device}`, { kind: 'device', update: u });
    }
  }

  /**
   * Forwards an alert transition (`{type:'alert', data:{type, alert}}`) to every
   * authenticated client whose filter matches the alert's room; alerts of no
   * room (a stopped service) go to everyone. Never coalesced: a lagging
   * client still gets each transition, in order.
   */
  alert(t: { type: string; alert: { location?: string; cluster?: string } }): void {
    let frame: Buffer | undefined;
    for (const c of this.#clients) {
      if (!c.authed) continue;
      const loc = t.alert.location;
      if (loc !== undefined && !matches(c.filter, loc, t.alert.cluster ?? '')) continue;
      frame ??= Buffer.from(JSON.stringify({ type: 'alert', data: t }));
      this.#write(c, frame);
    }
  }

  /** Closes every client (1001 going away). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#pinger);
    for (const c of [...this.#clients]) {
      clearTimeout(c.timer);
      clearTimeout(c.authTimer);
      c.ws.close(1001, 'server shutting down');
      this.#remove(c);
    }
  }

  #queue(c: Client, key: string, p: Pending): void {
    if (c.pending.has(key))
      c.pending.delete(key); // re-insert: newest last
    else if (c.pending.size >= this.options.maxPending) {
      const oldest = c.pending.keys().next().value;
      if (oldest !== undefined) c.pending.delete(oldest);
      this.#dropped++;
    }
    c.pending.set(key, p);
    this.#coalesced++;
    c.timer ??= setTimeout(() => this.#flush(c), this.options.flushIntervalMs);
  }

  #flush(c: Client): void {
    c.timer = undefined;
    if (!this.#clients.has(c)) return;
    if (c.ws.bufferedAmount > this.options.maxBufferedBytes) {
      c.timer = setTimeout(() => this.#flush(c), this.options.flushIntervalMs);
      return;
    }
    const groups = new Map<string, SensorUpdate>();
    const devices: DeviceUpdate[] = [];
    for (const p of c.pending.values()) {
      if (p.kind === 'device') {
        devices.push(p.update);
        continue;
      }
      const g = `${p.location}\u0000${p.cluster}\u0000${p.timestamp}`;
      let u = groups.get(g);
      if (!u) {
        u = { location: p.location, cluster: p.cluster, sensor_data: {}, timestamp: p.timestamp };
        groups.set(g, u);
      }
      u.sensor_data[p.name] = p.value;
    }
    c.pending.clear();
    for (const u of groups.values()) this.#write(c, JSON.stringify({ type: 'sensor', data: u, coalesced: true }));
    for (const d of devices) this.#write(c, JSON.stringify({ type: 'device', data: d, coalesced: true }));
  }

  #write(c: Client, data: Buffer | string): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    c.ws.send(data, { binary: false });
    this.#sent++;
  }

  /**
   * A reply to the client's own message. A client that keeps sending but
   * does not read (4× the coalescing threshold unsent) is closed.
   */
  #reply(c: Client, o: unknown): void {
    if (c.ws.bufferedAmount > 4 * this.options.maxBufferedBytes) {
      this.#drop(c, 'not_reading', 1008, 'not reading its replies');
      return;
    }
    this.#write(c, JSON.stringify(o));
  }

  #onClientMessage(c: Client, data: unknown, isBinary: boolean): void {
    if (!this.#clients.has(c)) return;
    const p = parseClientMessage(data, isBinary);
    if (!p.ok) {
      this.reject(p.reason);
      if (!c.authed)
        return this.#drop(c, 'unauthenticated', 1008, 'the first message must be {"type":"auth","token":…}');
      if (++c.bad > this.options.maxBadMessages) return this.#drop(c, 'too_many_bad', 1008, 'too many bad messages');
      return this.#reply(c, { type: 'error', message: p.error });
    }
    const m = p.message;
    if (m.type === 'auth') {
      const r = this.#authenticate(m.token);
      if ('statusCode' in r) {
        this.reject('auth_failed');
        if (!c.authed) return this.#drop(c, 'auth_failed', 1008, r.message);
        return this.#reply(c, { type: 'auth', ok: false, message: r.message });
      }
      const first = !c.authed;
      c.authed = true;
      c.who = r.name;
      clearTimeout(c.authTimer);
      this.#reply(c, { type: 'auth', ok: true, role: r.role });
      if (first) this.#hello(c);
      return;
    }
    if (!c.authed) return this.#drop(c, 'unauthenticated', 1008, 'the first message must be {"type":"auth","token":…}');
    if ('user' in m) {
      if (!this.users) return this.#reply(c, { type: 'error', message: 'no user feed here' });
      void this.users.message(c.ws, m, c.who !== undefined, (o) => this.#reply(c, o));
      return;
    }
    c.filter = { location: m.location, cluster: m.cluster };
    c.pending.clear();
    this.#reply(c, { type: 'subscribed', filter: c.filter });
  }

  #remove(c: Client): void {
    this.users?.drop(c.ws);
    clearTimeout(c.timer);
    clearTimeout(c.authTimer);
    c.pending.clear();
    this.#clients.delete(c);
  }
}
