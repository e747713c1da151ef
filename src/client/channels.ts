import { Connection } from '../bus/connection.js';
import { Subscriber } from '../bus/subscriber.js';
import type { BusLogger } from '../bus/log.js';
import { silentLogger } from '../bus/log.js';
import type { ConnectionOptions } from '../bus/options.js';
import {
  UserCodec,
  UserMessageValidator,
  userChannel,
  userChannelCodec,
  type PredictionMessage,
  type UserChannelKind,
  type UserCodecName,
  type UserMessageByKind,
} from '../contracts/user-channels.js';
import { onCluster } from '../bus/cluster/names.js';
import { isShardedUserKind } from '../contracts/cluster.js';

/** How a {@link UserChannels} client talks to Redis. */
export interface UserChannelsOptions {
  /** @defaultValue `{}` — the bus defaults (local Redis); pass `redisConnectionFromEnv()` (src/config/redis.ts) for `REDIS_URL` with the consumer ACL user */
  redis: Partial<ConnectionOptions>;
  /** @defaultValue `msgpack` — encoding of published messages (received ones may be either). */
  codec: UserCodecName;
  /** @defaultValue true — check messages against the user-channel shapes (docs/contracts.md) both ways. */
  validate: boolean;
  /** @defaultValue silent */
  logger: BusLogger;
  /** @defaultValue none — called for each incoming message refused (undecodable, over a limit, wrong shape). */
  onMalformed: ((info: { channel: string; error: string }) => void) | undefined;
}

export const USER_CHANNELS_DEFAULTS: UserChannelsOptions = {
  redis: {},
  codec: 'msgpack',
  validate: true,
  logger: silentLogger,
  onMalformed: undefined,
};

export interface UserChannelInfo {
  user: string;
  kind: UserChannelKind;
  channel: string;
}

export type UserMessageHandler<K extends UserChannelKind> = (
  message: UserMessageByKind[K],
  info: UserChannelInfo,
) => unknown;

export interface UserChannelsStats {
  /** Messages that arrived on subscribed channels. */
  received: number;
  /** Messages refused (undecodable or not matching their shape); handlers were not called. */
  malformed: number;
  /** Handler calls that threw or rejected. */
  handlerErrors: number;
  published: number;
}

/**
 * Direct Redis access to `user:{id}:*` channels, for consumers (subscribe
 * to a user's raw/features, publish predictions) and for relays that may
 * hold Redis credentials. What a client may do is decided by its ACL user
 * (`canopy acl --consumer name=user…`). Malformed incoming messages are
 * counted and logged, never passed to handlers; a throwing handler is
 * counted and does not stop the others.
 */
export class UserChannels {
  readonly options: UserChannelsOptions;
  readonly #conn: Connection;
  #sub: Promise<Subscriber> | undefined;
  readonly #codec = new UserCodec();
  readonly #busCodec = userChannelCodec();
  readonly #validator = new UserMessageValidator();
  #published = 0;

  private constructor(conn: Connection, options: UserChannelsOptions) {
    this.#conn = conn;
    this.options = options;
  }

  static async connect(opts: Partial<UserChannelsOptions> = {}): Promise<UserChannels> {
    const o = { ...USER_CHANNELS_DEFAULTS, ...opts };
    const conn = await Connection.connect({
      clientName: 'canopy-user-channels',
      logger: o.logger,
      ...o.redis,
    });
    // transport errors are retried by the connection; they are logged, never thrown at the caller
    conn.on('error', (err) => o.logger.warn({ err: err.message }, 'redis connection error'));
    return new UserChannels(conn, o);
  }

  /** Counters over every subscription (from the bus subscriber). */
  get stats(): UserChannelsStats {
    const out: UserChannelsStats = { received: 0, malformed: 0, handlerErrors: 0, published: this.#published };
    const sub = this.#subNow;
    for (const s of Object.values(sub?.stats.channels ?? {})) {
      out.received += s.received;
      out.malformed += s.malformed;
      out.handlerErrors += s.handlerErrors;
    }
    return out;
  }

  #subNow: Subscriber | undefined;

  /**
   * Subscribes to one user's channel of one kind (on a subscriber
   * connection of its own, made at the first call). Messages are decoded
   * (MessagePack or JSON) and, unless `validate` is off, checked.
   */
  async subscribe<K extends UserChannelKind>(
    user: string,
    kind: K,
    handler: UserMessageHandler<K>,
  ): Promise<{ unsubscribe(): Promise<void> }> {
    const channel = userChannel(user, kind);
    const sub = await this.#subscriber();
    return sub.subscribe<UserMessageByKind[K]>(channel, (m) => handler(m, { user, kind, channel }), {
      sharded: this.#sharded(kind),
      codec: this.#busCodec,
      ...(this.options.validate ? { validate: this.#validator.validator(kind) } : {}),
    });
  }

  /**
   * Publishes one message on `user:{id}:{kind}` (checked first: a
   * ValidationError names the field). Resolves to the receiver count.
   */
  async publish<K extends UserChannelKind>(user: string, kind: K, message: UserMessageByKind[K]): Promise<number> {
    const channel = userChannel(user, kind);
    const value = this.options.validate ? this.#validator.assert(kind, message) : message;
    const payload = this.#codec.encode(value, this.options.codec);
    const n = this.#sharded(kind)
      ? await this.#conn.run(`SPUBLISH ${channel}`, (c) => c.sPublish(channel, payload))
      : await this.#conn.run(`PUBLISH ${channel}`, (c) => c.publish(channel, payload));
    this.#published++;
    return n;
  }

  /** `{"type":"prediction",…}` on `user:{id}:predictions`; timestamp defaults to now (unix seconds). */
  publishPrediction(user: string, p: Omit<PredictionMessage, 'type'>): Promise<number> {
    return this.publish(user, 'predictions', { timestamp: Date.now() / 1000, ...p, type: 'prediction' });
  }

  /** Relay data kinds are sharded pub/sub on a Redis Cluster (docs/contracts.md). */
  #sharded(kind: UserChannelKind): boolean {
    return onCluster(this.#conn.options) && isShardedUserKind(kind);
  }

  async close(): Promise<void> {
    const sub = this.#sub;
    this.#sub = undefined;
    if (sub) await (await sub.catch(() => undefined))?.close();
    await this.#conn.close();
  }

  #subscriber(): Promise<Subscriber> {
    if (!this.#sub) {
      this.#sub = Subscriber.create(this.#conn, {
        logger: this.options.logger,
        connection: { clientName: 'canopy-user-channels-sub' },
      });
      this.#sub.then(
        (s) => {
          this.#subNow = s;
          const cb = this.options.onMalformed;
          if (cb) s.on('malformed', ({ channel, error }) => cb({ channel, error }));
        },
        () => (this.#sub = undefined),
      );
    }
    return this.#sub;
  }
}
