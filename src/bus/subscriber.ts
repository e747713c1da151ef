import { EventEmitter } from 'node:events';
import type { Codec } from './codec.js';
import { jsonCodec } from './codec.js';
import type { Connection, Health } from './connection.js';
import type { BusLogger } from './log.js';
import { silentLogger } from './log.js';
import type { ConnectionOptions } from './options.js';
import type { Validator } from './validate.js';

/** Called once per valid message; may be async. Its failures are counted, never propagated. */
export type MessageHandler<T> = (message: T, channel: string) => unknown;

/** How a {@link Subscriber} reads messages. */
export interface SubscriberOptions {
  /** @defaultValue {@link jsonCodec} — used by subscriptions that name none. */
  codec: Codec;
  /** @defaultValue silent */
  logger: BusLogger;
  /** @defaultValue 1048576 — larger messages are counted as malformed and not decoded. */
  maxMessageBytes: number;
  /**
   * Overrides for the duplicated connection (e.g. `clientName`).
   * @defaultValue `{}` — the parent connection's options
   */
  connection: Partial<ConnectionOptions>;
}

export const SUBSCRIBER_DEFAULTS: SubscriberOptions = {
  codec: jsonCodec,
  logger: silentLogger,
  maxMessageBytes: 1024 * 1024,
  connection: {},
};

/** Per subscription: a codec and an optional schema check. */
export interface SubscribeOptions<T> {
  /** @defaultValue the subscriber's codec */
  codec?: Codec;
  /** @defaultValue none — every decodable message is passed on */
  validate?: Validator<T>;
  /**
   * SSUBSCRIBE instead of SUBSCRIBE (channels only): sharded pub/sub, for
   * channels published with SPUBLISH on a Redis Cluster.
   * @defaultValue false
   */
  sharded?: boolean;
}

/** Counters of one channel or pattern. */
export interface SubscriptionStats {
  /** Messages that arrived (once per message, however many handlers). */
  received: number;
  /** Messages a handler's codec or validator rejected; that handler was not called. */
  malformed: number;
  /** Handler calls that threw or rejected. */
  handlerErrors: number;
}

export interface SubscriberStats {
  channels: Record<string, SubscriptionStats>;
  patterns: Record<string, SubscriptionStats>;
  /** Times the connection came back and the subscriptions were restored. */
  resubscribes: number;
}

export interface SubscriberEvents {
  health: [state: Health, previous: Health];
  /** A malformed message; `error` says why (never contains the payload beyond a preview). */
  malformed: [info: { kind: Kind; target: string; channel: string; error: string }];
  handlerError: [info: { kind: Kind; target: string; channel: string; error: unknown }];
  resubscribed: [];
}

type Kind = 'channel' | 'pattern';

interface Entry {
  handler: MessageHandler<unknown>;
  codec: Codec;
  validate: Validator<unknown> | undefined;
}

interface Target {
  kind: Kind;
  name: string;
  sharded: boolean;
  entries: Entry[];
  stats: SubscriptionStats;
  listener: (message: Buffer, channel: Buffer) => void;
}

/** Removes one handler (and the Redis subscription when it was the last one). */
export interface Subscription {
  unsubscribe(): Promise<void>;
}

/**
 * Pub/sub on its own connection (duplicated from the one given: a
 * subscribed connection can run nothing else). Subscribes to exact
 * channels and glob patterns; each message is decoded and validated once
 * per handler's codec/validator. Malformed messages are counted, logged and
 * not passed on; a handler that throws is counted and logged and never
 * stops the other handlers. node-redis restores every subscription after a
 * reconnect, and after a move to another primary (Sentinel) the subscriber
 * subscribes everything again on the new client; `resubscribes` counts
 * both. Messages published while it was away are lost (pub/sub keeps none).
 */
export class Subscriber extends EventEmitter<SubscriberEvents> {
  readonly options: SubscriberOptions;
  readonly #conn: Connection;
  readonly #targets = { channel: new Map<string, Target>(), pattern: new Map<string, Target>() };
  #resubscribes = 0;
  #switching = false;

  private constructor(conn: Connection, options: SubscriberOptions) {
    super();
    this.#conn = conn;
    this.options = options;
    conn.on('health', (s, p) => this.emit('health', s, p));
    conn.on('error', (err) => options.logger.warn({ err: err.message }, 'subscriber connection error'));
    conn.on('switched', (info) => {
      this.#switching = true;
      void this.#resubscribeAll(info.to).finally(() => (this.#switching = false));
    });
    conn.on('reconnected', () => {
      if (this.#switching) return; // counted when the re-subscription on the new primary is done
      this.#resubscribes++;
      options.logger.info({ resubscribes: this.#resubscribes }, 'subscriber reconnected; subscriptions restored');
      this.emit('resubscribed');
    });
  }

  /**
   * After a move to another primary the connection has a new client with
   * no subscriptions (node-redis restores them only on its own reconnect):
   * subscribe everything again there. A failure is logged and retried.
   */
  async #resubscribeAll(to: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const targets = [...this.#targets.channel.values(), ...this.#targets.pattern.values()];
      const results = await Promise.allSettled(targets.map((t) => this.#redisSubscribe(t)));
      const failed = results.filter((r) => r.status === 'rejected').length;
      if (failed === 0 || this.#conn.health === 'closed') break;
      this.options.logger.warn({ failed, attempt, primary: to }, 're-subscribing on the new primary failed; retrying');
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    }
    this.#resubscribes++;
    this.options.logger.info(
      { resubscribes: this.#resubscribes, primary: to },
      'subscriber moved to the new primary; subscriptions restored',
    );
    this.emit('resubscribed');
  }

  /** Duplicates `conn` into a dedicated subscriber connection. */
  static async create(conn: Connection, options: Partial<SubscriberOptions> = {}): Promise<Subscriber> {
    const o: SubscriberOptions = { ...SUBSCRIBER_DEFAULTS, ...options };
    const own = await conn.duplicate({ clientName: `${conn.options.clientName}-sub`, ...o.connection });
    return new Subscriber(own, o);
  }

  get health(): Health {
    return this.#conn.health;
  }

  /** The dedicated connection (for diagnostics; do not run commands on it). */
  get connection(): Connection {
    return this.#conn;
  }

  /** Subscribe to exact channel names. */
  subscribe<T = unknown>(
    channels: string | string[],
    handler: MessageHandler<T>,
    opts: SubscribeOptions<T> = {},
  ): Promise<Subscription> {
    return this.#add('channel', channels, handler, opts);
  }

  /** Subscribe to glob patterns (`sensor:update:*`). */
  psubscribe<T = unknown>(
    patterns: string | string[],
    handler: MessageHandler<T>,
    opts: SubscribeOptions<T> = {},
  ): Promise<Subscription> {
    return this.#add('pattern', patterns, handler, opts);
  }

  /** A snapshot of the counters. */
  get stats(): SubscriberStats {
    const snap = (m: Map<string, Target>) =>
      Object.fromEntries([...m].map(([k, t]) => [k, { ...t.stats }])) as Record<string, SubscriptionStats>;
    return {
      channels: snap(this.#targets.channel),
      patterns: snap(this.#targets.pattern),
      resubscribes: this.#resubscribes,
    };
  }

  /** Whether the dedicated connection is connected (not reconnecting, not closed). */
  get isReady(): boolean {
    return this.#conn.isReady;
  }

  /** Unsubscribes everything and closes the dedicated connection. */
  async close(): Promise<void> {
    this.#targets.channel.clear();
    this.#targets.pattern.clear();
    await this.#conn.close();
  }

  async #add<T>(
    kind: Kind,
    names: string | string[],
    handler: MessageHandler<T>,
    opts: SubscribeOptions<T>,
  ): Promise<Subscription> {
    const list = Array.isArray(names) ? names : [names];
    const entry: Entry = {
      handler: handler as MessageHandler<unknown>,
      codec: opts.codec ?? this.options.codec,
      validate: opts.validate as Validator<unknown> | undefined,
    };
    const fresh: Target[] = [];
    for (const name of list) {
      const map = this.#targets[kind];
      let t = map.get(name);
      if (!t) {
        t = this.#target(kind, name, kind === 'channel' && opts.sharded === true);
        map.set(name, t);
        fresh.push(t);
      }
      t.entries.push(entry);
    }
    try {
      await Promise.all(fresh.map((t) => this.#redisSubscribe(t)));
    } catch (err) {
      for (const t of fresh) this.#targets[kind].delete(t.name);
      throw err;
    }
    return {
      unsubscribe: async () => {
        for (const name of list) {
          const t = this.#targets[kind].get(name);
          if (!t) continue;
          t.entries = t.entries.filter((e) => e !== entry);
          if (t.entries.length === 0) {
            this.#targets[kind].delete(name);
            await this.#conn.run(`UNSUBSCRIBE ${name}`, (c) =>
              t.sharded
                ? c.sUnsubscribe(name, t.listener, true)
                : kind === 'channel'
                  ? c.unsubscribe(name, t.listener, true)
                  : c.pUnsubscribe(name, t.listener, true),
            );
          }
        }
      },
    };
  }

  #redisSubscribe(t: Target): Promise<void> {
    if (t.sharded) return this.#conn.run(`SSUBSCRIBE ${t.name}`, (c) => c.sSubscribe(t.name, t.listener, true));
    return this.#conn.run(`${t.kind === 'channel' ? 'SUBSCRIBE' : 'PSUBSCRIBE'} ${t.name}`, (c) =>
      t.kind === 'channel' ? c.subscribe(t.name, t.listener, true) : c.pSubscribe(t.name, t.listener, true),
    );
  }

  #target(kind: Kind, name: string, sharded: boolean): Target {
    const t: Target = {
      kind,
      name,
      sharded,
      entries: [],
      stats: { received: 0, malformed: 0, handlerErrors: 0 },
      listener: (message, channel) => this.#dispatch(t, message, channel),
    };
    return t;
  }

  #dispatch(t: Target, message: Buffer, channelBuf: Buffer): void {
    try {
      this.#dispatchOne(t, message, channelBuf);
    } catch (err) {
      // nothing here should throw; if it does, this message is lost, the subscriber is not
      t.stats.handlerErrors++;
      this.options.logger.error({ target: t.name, err: (err as Error).message }, 'message dispatch failed');
    }
  }

  #dispatchOne(t: Target, message: Buffer, channelBuf: Buffer): void {
    t.stats.received++;
    const channel = channelBuf.toString('utf8');
    if (message.length > this.options.maxMessageBytes) {
      this.#reject(t, channel, `message of ${message.length} bytes exceeds ${this.options.maxMessageBytes}`, message);
      return;
    }
    const decoded = new Map<Codec, { ok: true; value: unknown } | { ok: false; error: string }>();
    let malformed = false;
    for (const e of t.entries) {
      let d = decoded.get(e.codec);
      if (!d) {
        try {
          d = { ok: true, value: e.codec.decode(message) };
        } catch (err) {
          d = { ok: false, error: (err as Error).message };
        }
        decoded.set(e.codec, d);
      }
      let result = d;
      if (result.ok && e.validate) {
        try {
          result = e.validate(result.value);
        } catch (err) {
          result = { ok: false, error: `validator threw: ${(err as Error).message}` };
        }
      }
      if (!result.ok) {
        if (!malformed) {
          malformed = true;
          this.#reject(t, channel, result.error, message);
        }
        continue;
      }
      this.#call(t, e, result.value, channel);
    }
  }

  #reject(t: Target, channel: string, error: string, message: Buffer): void {
    t.stats.malformed++;
    this.options.logger.warn(
      { kind: t.kind, target: t.name, channel, error, bytes: message.length },
      'malformed message rejected',
    );
    this.#emitSafely('malformed', { kind: t.kind, target: t.name, channel, error });
  }

  /**
   * Emits to listeners without letting one of them throw into the Redis
   * client's reader (which would take the process down): counted as a
   * handler error and logged instead.
   */
  #emitSafely<E extends 'malformed' | 'handlerError'>(event: E, info: SubscriberEvents[E][0]): void {
    try {
      (this.emit as (e: string, i: unknown) => boolean)(event, info);
    } catch (err) {
      this.options.logger.error(
        { event, err: err instanceof Error ? err.message : String(err) },
        'subscriber listener failed',
      );
    }
  }

  #call(t: Target, e: Entry, value: unknown, channel: string): void {
    const fail = (err: unknown) => {
      t.stats.handlerErrors++;
      this.options.logger.error(
        { kind: t.kind, target: t.name, channel, err: err instanceof Error ? err.message : String(err) },
        'message handler failed',
      );
      this.#emitSafely('handlerError', { kind: t.kind, target: t.name, channel, error: err });
    };
    try {
      const r = e.handler(value, channel);
      if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  }
}
