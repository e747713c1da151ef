import type { WebSocket } from 'ws';
import type { Connection } from '../../bus/connection.js';
import { ConfigError } from '../../bus/errors.js';
import { Subscriber, type Subscription } from '../../bus/subscriber.js';
import {
  isUserId,
  userChannel,
  userChannelCodec,
  UserMessageValidator,
  type PredictionMessage,
  type RawMessage,
} from '../../contracts/user-channels.js';
import type { Logger } from '../../util/log.js';
import { onCluster } from '../../bus/cluster/names.js';

/** Limits of the live per-user feed on /ws (`{"type":"subscribe","user":…}`). */
export interface UserFeedOptions {
  /** @defaultValue 250 — a client gets at most one message per user and kind this often (the rest is merged). */
  intervalMs: number;
  /** @defaultValue 4 — users one client may watch at once. */
  maxPerClient: number;
  /** @defaultValue 64 — distinct users the API subscribes to at once (over all clients). */
  maxUsers: number;
  /** @defaultValue 1 MiB — a client with more unsent bytes is skipped this round (its data stays merged). */
  maxBufferedBytes: number;
  /** @defaultValue 32 — prediction types kept per user between two sends (the oldest is dropped beyond). */
  maxPredictionTypes: number;
}

export const USER_FEED_DEFAULTS: UserFeedOptions = {
  intervalMs: 250,
  maxPerClient: 4,
  maxUsers: 64,
  maxBufferedBytes: 1 << 20,
  maxPredictionTypes: 32,
};

export interface UserFeedStats {
  /** Users subscribed on Redis now. */
  users: number;
  /** Messages received on user channels. */
  received: number;
  /** Messages refused (undecodable, or not of the user-channel shape, docs/contracts.md). */
  malformed: number;
  /** Messages merged into a later send instead of sent on their own. */
  coalesced: number;
  /** Feed messages written to clients. */
  sent: number;
  /** Subscriptions refused (per-client or total cap, bad user id, no token). */
  refused: number;
}

/** A message about the user feed, parsed by ws-messages.ts. */
export type UserFeedMessage = { type: 'subscribe' | 'unsubscribe'; user: string };

/** Latest merged data of one user for one client, sent at the next tick. */
interface Pending {
  raw: { timestamp: unknown; channels: Record<string, number>; samples: Record<string, number>; merged: number } | null;
  predictions: Map<string, { message: PredictionMessage; merged: number }>;
}

interface Watcher {
  ws: WebSocket;
  users: Map<string, Pending>;
}

interface Topic {
  watchers: Set<Watcher>;
  subs: Promise<Subscription[]>;
}

/** JSON of decoded MessagePack: timestamps as ISO text, bytes as base64, big integers as numbers. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return Number(v);
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && 'data' in v) {
      return Buffer.from((v as { data: number[] }).data).toString('base64');
    }
    return v;
  });
}

/**
 * The live feed of one user's `user:{id}:raw` and `user:{id}:predictions`
 * for /ws clients. MessagePack (or JSON) is decoded and checked against the
 * user-channel shapes (docs/contracts.md), then merged per client: the latest value of every raw
 * channel (a block of samples gives its last one) and the latest prediction
 * of every `prediction_type`, written at most once per `intervalMs`. Redis
 * is subscribed once per user however many clients watch it, and
 * unsubscribed when the last one leaves.
 */
export class UserFeed {
  readonly options: UserFeedOptions;
  readonly #conn: Connection;
  readonly #log: Logger;
  readonly #topics = new Map<string, Topic>();
  readonly #watchers = new Map<WebSocket, Watcher>();
  readonly #validator = new UserMessageValidator();
  readonly #codec = userChannelCodec('msgpack');
  readonly #stats = { received: 0, malformed: 0, coalesced: 0, sent: 0, refused: 0 };
  #sub: Promise<Subscriber> | undefined;
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  constructor(conn: Connection, log: Logger, options: Partial<UserFeedOptions> = {}) {
    const o = { ...USER_FEED_DEFAULTS, ...options };
    for (const k of Object.keys(USER_FEED_DEFAULTS) as Array<keyof UserFeedOptions>) {
      if (!(Number.isInteger(o[k]) && o[k] > 0)) throw new ConfigError(`user feed ${k} must be a positive integer`);
    }
    this.options = o;
    this.#conn = conn;
    this.#log = log;
    this.#timer = setInterval(() => this.#flush(), o.intervalMs);
    this.#timer.unref();
  }

  get stats(): UserFeedStats {
    return { users: this.#topics.size, ...this.#stats };
  }

  /**
   * Handles a client's subscribe/unsubscribe. `reply` answers the client;
   * `hasToken` is whether it presented a viewer token (the feed needs one
   * even where other reads are open: it is one person's data).
   */
  async message(ws: WebSocket, m: UserFeedMessage, hasToken: boolean, reply: (o: object) => void): Promise<void> {
    const refuse = (message: string) => {
      this.#stats.refused++;
      reply({ type: 'error', user: m.user, message });
    };
    if (!isUserId(m.user)) return refuse('user must be 1–64 characters from A–Z a–z 0–9 _ . -');
    if (m.type === 'unsubscribe') {
      this.#leave(ws, m.user);
      return reply({ type: 'unsubscribed', user: m.user });
    }
    if (!hasToken) return refuse('a user\'s live data needs a viewer token: send {"type":"auth","token":…} first');
    let w = this.#watchers.get(ws);
    if (w?.users.has(m.user)) return reply({ type: 'subscribed', user: m.user });
    if ((w?.users.size ?? 0) >= this.options.maxPerClient) {
      return refuse(`at most ${this.options.maxPerClient} users per connection; unsubscribe one first`);
    }
    if (!this.#topics.has(m.user) && this.#topics.size >= this.options.maxUsers) {
      return refuse(`the API watches ${this.options.maxUsers} users already; try again later`);
    }
    if (!w) {
      w = { ws, users: new Map() };
      this.#watchers.set(ws, w);
    }
    w.users.set(m.user, { raw: null, predictions: new Map() });
    let topic = this.#topics.get(m.user);
    if (!topic) {
      topic = { watchers: new Set(), subs: this.#subscribe(m.user) };
      this.#topics.set(m.user, topic);
    }
    topic.watchers.add(w);
    try {
      await topic.subs;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, user: m.user }, 'user feed subscription failed');
      this.#leave(ws, m.user);
      return refuse('the live feed is unavailable (Redis)');
    }
    reply({ type: 'subscribed', user: m.user });
  }

  /** A client went away: leaves every user it watched. */
  drop(ws: WebSocket): void {
    const w = this.#watchers.get(ws);
    if (!w) return;
    for (const user of [...w.users.keys()]) this.#leave(ws, user);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#watchers.clear();
    this.#topics.clear();
    const sub = this.#sub;
    this.#sub = undefined;
    if (sub) await (await sub.catch(() => undefined))?.close();
  }

  #subscriber(): Promise<Subscriber> {
    this.#sub ??= Subscriber.create(this.#conn, {
      logger: this.#log,
      codec: this.#codec,
      connection: { clientName: 'canopy-api-users' },
    }).then((sub) => {
      sub.on('malformed', () => void this.#stats.malformed++);
      return sub;
    });
    // a failed start (Redis down) is tried again by the next subscribe
    this.#sub.catch(() => (this.#sub = undefined));
    return this.#sub;
  }

  async #subscribe(user: string): Promise<Subscription[]> {
    const sub = await this.#subscriber();
    const raw = await sub.subscribe<RawMessage>(userChannel(user, 'raw'), (m) => this.#raw(user, m), {
      validate: this.#validator.validator('raw'),
      sharded: onCluster(sub.connection.options),
    });
    const pred = await sub.subscribe<PredictionMessage>(
      userChannel(user, 'predictions'),
      (m) => this.#prediction(user, m),
      { validate: this.#validator.validator('predictions') },
    );
    return [raw, pred];
  }

  #leave(ws: WebSocket, user: string): void {
    const w = this.#watchers.get(ws);
    if (!w?.users.delete(user)) return;
    if (w.users.size === 0) this.#watchers.delete(ws);
    const topic = this.#topics.get(user);
    if (!topic) return;
    topic.watchers.delete(w);
    if (topic.watchers.size > 0) return;
    this.#topics.delete(user);
    topic.subs
      .then(
        (subs) => Promise.all(subs.map((s) => s.unsubscribe())),
        () => undefined,
      )
      .catch((err: unknown) => this.#log.debug({ err: (err as Error).message }, 'user feed unsubscribe failed'));
  }

  #raw(user: string, m: RawMessage): void {
    this.#stats.received++;
    for (const w of this.#topics.get(user)?.watchers ?? []) {
      const p = w.users.get(user);
      if (!p) continue;
      if (p.raw) this.#stats.coalesced++;
      const r = (p.raw ??= { timestamp: m.timestamp, channels: {}, samples: {}, merged: 0 });
      r.timestamp = m.timestamp;
      r.merged++;
      for (const [ch, v] of Object.entries(m.channels)) {
        if (typeof v === 'number') {
          r.channels[ch] = v;
          r.samples[ch] = (r.samples[ch] ?? 0) + 1;
        } else if (v.length > 0) {
          r.channels[ch] = v[v.length - 1]!;
          r.samples[ch] = (r.samples[ch] ?? 0) + v.length;
        }
      }
    }
  }

  #prediction(user: string, m: PredictionMessage): void {
    this.#stats.received++;
    const type = m.prediction_type ?? '';
    for (const w of this.#topics.get(user)?.watchers ?? []) {
      const p = w.users.get(user);
      if (!p) continue;
      const prev = p.predictions.get(type);
      if (prev) {
        this.#stats.coalesced++;
        p.predictions.delete(type);
      } else if (p.predictions.size >= this.options.maxPredictionTypes) {
        const oldest = p.predictions.keys().next().value;
        if (oldest !== undefined) p.predictions.delete(oldest);
      }
      p.predictions.set(type, { message: m, merged: (prev?.merged ?? 0) + 1 });
    }
  }

  /** Writes what each client has pending, unless its socket is backed up (then it stays merged). */
  #flush(): void {
    if (this.#closed) return;
    for (const w of this.#watchers.values()) {
      if (w.ws.readyState !== w.ws.OPEN || w.ws.bufferedAmount > this.options.maxBufferedBytes) continue;
      for (const [user, p] of w.users) {
        if (p.raw) {
          const { timestamp, channels, samples, merged } = p.raw;
          this.#send(w, toJson({ type: 'user', user, kind: 'raw', data: { timestamp, channels }, samples, merged }));
          p.raw = null;
        }
        for (const { message, merged } of p.predictions.values()) {
          this.#send(w, toJson({ type: 'user', user, kind: 'prediction', data: message, merged }));
        }
        p.predictions.clear();
      }
    }
  }

  #send(w: Watcher, text: string): void {
    w.ws.send(text, { binary: false });
    this.#stats.sent++;
  }
}
