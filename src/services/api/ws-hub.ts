import type { WebSocket } from 'ws';
import type { Logger } from '../../util/log.js';
import type { DeviceUpdate, SensorUpdate } from './updates.js';

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
}

export interface HubStats {
  clients: number;
  /** Messages written to sockets. */
  sent: number;
  /** Updates merged into a lagging client's queue instead of being sent. */
  coalesced: number;
  /** Queue entries dropped because a lagging client's queue was full. */
  dropped: number;
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
  readonly #pinger: NodeJS.Timeout;

  constructor(options: HubOptions, log: Logger) {
    this.options = options;
    this.#log = log;
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
    return { clients: this.#clients.size, sent: this.#sent, coalesced: this.#coalesced, dropped: this.#dropped };
  }

  /** Adopts a connected socket; `hello` is sent at once. */
  add(ws: WebSocket, filter: ClientFilter, hello: unknown): void {
    if (this.#closed) {
      ws.close(1001, 'server shutting down');
      return;
    }
    const c: Client = { ws, filter, pending: new Map(), timer: undefined, alive: true };
    this.#clients.add(c);
    ws.on('pong', () => (c.alive = true));
    ws.on('message', (data, isBinary) => this.#onClientMessage(c, data, isBinary));
    ws.on('close', () => this.#remove(c));
    ws.on('error', (err) => {
      this.#log.debug({ err: err.message }, 'websocket client error');
      this.#remove(c);
    });
    this.#write(c, JSON.stringify({ type: 'hello', filter, ...(hello as object) }));
  }

  /** Forwards a validated sensor update (serialised once for every client). */
  sensor(u: SensorUpdate): void {
    let frame: Buffer | undefined;
    for (const c of this.#clients) {
      if (!matches(c.filter, u.location, u.cluster)) continue;
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
      if (!matches(c.filter, u.location, u.cluster)) continue;
      if (c.pending.size === 0 && c.ws.bufferedAmount <= this.options.maxBufferedBytes) {
        frame ??= Buffer.from(JSON.stringify({ type: 'device', data: u }));
        this.#write(c, frame);
        continue;
      }
      this.#queue(c, `d\u0000${u.device}`, { kind: 'device', update: u });
    }
  }

  /** Closes every client (1001 going away). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#pinger);
    for (const c of [...this.#clients]) {
      clearTimeout(c.timer);
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

  #onClientMessage(c: Client, data: unknown, isBinary: boolean): void {
    const reply = (o: unknown) => this.#write(c, JSON.stringify(o));
    if (isBinary) return reply({ type: 'error', message: 'messages must be JSON text' });
    let m: unknown;
    try {
      m = JSON.parse(String(data));
    } catch {
      return reply({ type: 'error', message: 'message is not JSON' });
    }
    const o = m as Record<string, unknown>;
    if (typeof m !== 'object' || m === null || o.type !== 'subscribe') {
      return reply({ type: 'error', message: 'unknown message: expected {"type":"subscribe","location"?,"cluster"?}' });
    }
    for (const k of ['location', 'cluster'] as const) {
      if (o[k] !== undefined && (typeof o[k] !== 'string' || o[k] === '')) {
        return reply({ type: 'error', message: `${k} must be a non-empty string` });
      }
    }
    c.filter = { location: o.location as string | undefined, cluster: o.cluster as string | undefined };
    c.pending.clear();
    reply({ type: 'subscribed', filter: c.filter });
  }

  #remove(c: Client): void {
    clearTimeout(c.timer);
    c.pending.clear();
    this.#clients.delete(c);
  }
}
