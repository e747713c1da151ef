import { Connection } from '../bus/connection.js';
import type { BusLogger } from '../bus/log.js';
import { silentLogger } from '../bus/log.js';
import type { ConnectionOptions } from '../bus/options.js';
import {
  UserCodec,
  UserMessageValidator,
  userChannel,
  type PredictionMessage,
  type UserChannelKind,
  type UserCodecName,
  type UserMessageByKind,
} from '../bus/userchannels.js';

/** How a {@link UserChannels} client talks to Redis. */
export interface UserChannelsOptions {
  /** @defaultValue `{}` — `REDIS_URL` (with the consumer's ACL user and password) from the environment */
  redis: Partial<ConnectionOptions>;
  /** @defaultValue `msgpack` — encoding of published messages (received ones may be either). */
  codec: UserCodecName;
  /** @defaultValue true — check messages against the SPEC §2 shapes both ways. */
  validate: boolean;
  /** @defaultValue silent */
  logger: BusLogger;
}

export const USER_CHANNELS_DEFAULTS: UserChannelsOptions = {
  redis: {},
  codec: 'msgpack',
  validate: true,
  logger: silentLogger,
};

export interface UserChannelInfo {
  user: string;
  kind: UserChannelKind;
  channel: string;
  /** The encoding the message arrived in. */
  codec: UserCodecName;
}

export type UserMessageHandler<K extends UserChannelKind> = (
  message: UserMessageByKind[K],
  info: UserChannelInfo,
) => unknown;

export interface UserChannelsStats {
  received: number;
  malformed: number;
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
  readonly stats: UserChannelsStats = { received: 0, malformed: 0, handlerErrors: 0, published: 0 };
  readonly #conn: Connection;
  #sub: Promise<Connection> | undefined;
  readonly #codec = new UserCodec();
  readonly #validator = new UserMessageValidator();
  readonly #handlers = new Map<string, Set<(payload: Buffer) => void>>();
  #lastWarn = 0;

  private constructor(conn: Connection, options: UserChannelsOptions) {
    this.#conn = conn;
    this.options = options;
  }

  static async connect(opts: Partial<UserChannelsOptions> = {}): Promise<UserChannels> {
    const o = { ...USER_CHANNELS_DEFAULTS, ...opts };
    const conn = await Connection.connect({ clientName: 'canopy-user-channels', logger: o.logger, ...o.redis });
    return new UserChannels(conn, o);
  }

  /** Subscribes to one user's channel of one kind. */
  async subscribe<K extends UserChannelKind>(
    user: string,
    kind: K,
    handler: UserMessageHandler<K>,
  ): Promise<{ unsubscribe(): Promise<void> }> {
    const channel = userChannel(user, kind);
    const listener = (payload: Buffer) => this.#dispatch(user, kind, channel, payload, handler);
    let set = this.#handlers.get(channel);
    const sub = await this.#subscriber();
    if (!set) {
      set = new Set();
      this.#handlers.set(channel, set);
      const s = set;
      try {
        await sub.run(`SUBSCRIBE ${channel}`, (c) =>
          c.subscribe(channel, (message) => s.forEach((l) => l(message)), true),
        );
      } catch (err) {
        this.#handlers.delete(channel);
        throw err;
      }
    }
    set.add(listener);
    return {
      unsubscribe: async () => {
        set.delete(listener);
        if (set.size === 0 && this.#handlers.get(channel) === set) {
          this.#handlers.delete(channel);
          await sub.run(`UNSUBSCRIBE ${channel}`, (c) => c.unsubscribe(channel));
        }
      },
    };
  }

  /**
   * Publishes one message on `user:{id}:{kind}` (checked first: a
   * ValidationError names the field). Resolves to the receiver count.
   */
  async publish<K extends UserChannelKind>(user: string, kind: K, message: UserMessageByKind[K]): Promise<number> {
    const channel = userChannel(user, kind);
    const value = this.options.validate ? this.#validator.assert(kind, message) : message;
    const payload = this.#codec.encode(value, this.options.codec);
    const n = await this.#conn.run(`PUBLISH ${channel}`, (c) => c.publish(channel, payload));
    this.stats.published++;
    return n;
  }

  /** `{"type":"prediction",…}` on `user:{id}:predictions`; timestamp defaults to now (unix seconds). */
  publishPrediction(user: string, p: Omit<PredictionMessage, 'type'>): Promise<number> {
    return this.publish(user, 'predictions', { timestamp: Date.now() / 1000, ...p, type: 'prediction' });
  }

  async close(): Promise<void> {
    const sub = this.#sub;
    this.#sub = undefined;
    if (sub) await (await sub.catch(() => undefined))?.close();
    await this.#conn.close();
  }

  #subscriber(): Promise<Connection> {
    if (!this.#sub) {
      this.#sub = this.#conn.duplicate({ clientName: 'canopy-user-channels-sub' });
      this.#sub.catch(() => (this.#sub = undefined));
    }
    return this.#sub;
  }

  #dispatch<K extends UserChannelKind>(
    user: string,
    kind: K,
    channel: string,
    payload: Buffer,
    handler: UserMessageHandler<K>,
  ): void {
    this.stats.received++;
    let value: unknown;
    let codec: UserCodecName;
    try {
      ({ value, codec } = this.#codec.decode(payload));
    } catch (err) {
      this.#malformed(channel, (err as Error).message);
      return;
    }
    if (this.options.validate) {
      const r = this.#validator.validate(kind, value);
      if (!r.ok) {
        this.#malformed(channel, r.error);
        return;
      }
    }
    try {
      const ret = handler(value as UserMessageByKind[K], { user, kind, channel, codec });
      if (ret instanceof Promise) ret.catch((err: unknown) => this.#handlerError(channel, err));
    } catch (err) {
      this.#handlerError(channel, err);
    }
  }

  #malformed(channel: string, error: string): void {
    this.stats.malformed++;
    this.#warn({ channel, error }, 'malformed message ignored');
  }

  #handlerError(channel: string, err: unknown): void {
    this.stats.handlerErrors++;
    this.#warn({ channel, err: (err as Error)?.message ?? String(err) }, 'message handler failed');
  }

  #warn(obj: object, msg: string): void {
    const now = Date.now();
    if (now - this.#lastWarn < 1000) return;
    this.#lastWarn = now;
    this.options.logger.warn(obj, msg);
  }
}
