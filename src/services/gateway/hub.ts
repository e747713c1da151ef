import { RESP_TYPES } from '@redis/client';
import type { Connection } from '../../bus/connection.js';
import type { BusLogger } from '../../bus/log.js';
import type { Subscriber, Subscription } from '../../bus/subscriber.js';
import {
  BACK_KINDS,
  isBackKind,
  parseUserChannel,
  userBacklogKey,
  userBacklogSeenKey,
  userChannel,
  userChannelCodec,
  userPattern,
  type BackKind,
  type ForwardKind,
  type UserCodec,
  type UserMessageValidator,
} from '../../contracts/user-channels.js';
import { onCluster } from '../../bus/cluster/names.js';
import { MessageKeys } from './message-keys.js';

/** A back-channel message the hub has read, checked and stored in the backlog. */
export interface BackMessage {
  user: string;
  kind: BackKind;
  /** Backlog stream id, or null when the backlog write failed. */
  id: string | null;
  message: Record<string, unknown>;
}

export interface HubStats {
  published: number;
  publishErrors: number;
  backReceived: number;
  backUnknownUser: number;
  backlogErrors: number;
  /** Back-channel messages another gateway had appended to the backlog already (same id handed on). */
  backlogShared: number;
}

/** What the hub needs from the gateway. */
export interface HubOptions {
  /** Backlog window: entries older than this are trimmed (MINID) and an idle key expires. */
  windowMs: number;
  /** Only users with a token are served; other users' messages are counted and ignored. */
  isKnownUser: (user: string) => boolean;
  codec: UserCodec;
  validator: UserMessageValidator;
  logger: BusLogger;
  /** Called once per accepted back-channel message, in the order Redis delivered them. */
  onBack: (m: BackMessage) => void;
  /** Relay messages that may wait for Redis at once before {@link onPressure}(true). */
  maxInFlight: number;
  /**
   * Hard cap on the bytes of relay messages waiting for Redis: relays are
   * paused at `maxInFlight`, but what their sockets had already delivered
   * still arrives; beyond this many bytes it is refused (unpublished), not queued.
   */
  maxInFlightBytes: number;
  /** Backpressure: true when too much waits for Redis (stop reading relays), false when half of it drained. */
  onPressure?: (high: boolean) => void;
}

const BUFFERS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } };
/** Messages of one user appended per script call. */
const APPEND_BATCH = 100;

/** A user's back-channel messages waiting for their backlog append. */
interface AppendQueue {
  items: { kind: BackKind; key: string; payload: Buffer; message: Record<string, unknown> }[];
  /** A script call of this user is in flight. */
  busy: boolean;
}
/** Backlog entries read per XRANGE during a replay. */
const REPLAY_PAGE = 200;

/**
 * The gateway's Redis side: publishes what relays send on
 * `user:{id}:raw|features`; listens on `user:*:predictions|commands|alerts`
 * (PSUBSCRIBE), checks each message, appends it to `user:{id}:backlog`
 * (fields `kind`, `m` = the message as MessagePack; trimmed by MINID to the
 * window, key expiring after it) and hands it on in order. Any number of
 * gateways may run: the append is idempotent per message
 * (`backlog-append.lua`, keys from {@link MessageKeys}), so the backlog holds
 * each message once and every gateway hands it on with the same id.
 */
export class UserChannelHub {
  readonly stats: HubStats = {
    published: 0,
    publishErrors: 0,
    backReceived: 0,
    backUnknownUser: 0,
    backlogErrors: 0,
    backlogShared: 0,
  };
  readonly #conn: Connection;
  readonly #sub: Subscriber;
  readonly #subscriptions: Subscription[] = [];
  readonly #opts: HubOptions;
  readonly #keys: MessageKeys;
  readonly #appends = new Map<string, AppendQueue>();
  #lastWarn = 0;

  private constructor(conn: Connection, sub: Subscriber, opts: HubOptions) {
    this.#conn = conn;
    this.#sub = sub;
    this.#opts = opts;
    this.#keys = new MessageKeys(opts.windowMs);
  }

  /**
   * PSUBSCRIBEs `user:*:predictions|commands|alerts` on `sub` (the bus
   * subscriber decodes and validates: malformed messages are counted there
   * and never reach the hub).
   */
  static async start(conn: Connection, sub: Subscriber, opts: HubOptions): Promise<UserChannelHub> {
    const hub = new UserChannelHub(conn, sub, opts);
    const codec = userChannelCodec('msgpack');
    try {
      for (const kind of BACK_KINDS) {
        hub.#subscriptions.push(
          await sub.psubscribe<Record<string, unknown>>(
            userPattern(kind),
            (message, channel) => hub.#onMessage(message, channel),
            { codec, validate: opts.validator.validator(kind) as never },
          ),
        );
      }
    } catch (err) {
      await hub.close();
      throw err;
    }
    return hub;
  }

  /**
   * PUBLISH one relay message (already encoded); `done(ok)` is called when
   * Redis answered (at once with false when `maxInFlightBytes` wait already).
   * Messages of one event-loop turn go out as one pipeline
   * (one round trip, one timeout), in the order they were given.
   */
  publish(user: string, kind: ForwardKind, payload: Buffer, done?: (ok: boolean) => void): void {
    if (this.#inFlightBytes + payload.length > this.#opts.maxInFlightBytes) {
      this.stats.publishErrors++;
      done?.(false);
      return;
    }
    this.#batch.push({ channel: userChannel(user, kind), payload, done });
    this.#inFlight++;
    this.#inFlightBytes += payload.length;
    if (this.#batch.length === 1) setImmediate(() => this.#flush());
    if (!this.#pressed && this.#inFlight >= this.#opts.maxInFlight) {
      this.#pressed = true;
      this.#opts.onPressure?.(true);
    }
  }

  #inFlight = 0;
  #inFlightBytes = 0;
  #pressed = false;

  /** Relay messages handed to Redis and not answered yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  #settled(n: number, bytes: number): void {
    this.#inFlight -= n;
    this.#inFlightBytes -= bytes;
    if (this.#pressed && this.#inFlight <= this.#opts.maxInFlight / 2) {
      this.#pressed = false;
      this.#opts.onPressure?.(false);
    }
  }

  #batch: Array<{ channel: string; payload: Buffer; done: ((ok: boolean) => void) | undefined }> = [];

  #flush(): void {
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length === 0) return;
    let bytes = 0;
    for (const b of batch) bytes += b.payload.length;
    // On a cluster the relay data channels are sharded (SPUBLISH: one shard, not every node).
    const sharded = onCluster(this.#conn.options);
    this.#conn
      .run(`${sharded ? 'SPUBLISH' : 'PUBLISH'} ×${batch.length}`, (c) => {
        const m = c.multi();
        for (const b of batch) {
          if (sharded) m.sPublish(b.channel, b.payload);
          else m.publish(b.channel, b.payload);
        }
        return m.execAsPipeline();
      })
      .then(
        () => {
          this.stats.published += batch.length;
          this.#settled(batch.length, bytes);
          for (const b of batch) this.#done(b.done, true);
        },
        (err: unknown) => {
          this.stats.publishErrors += batch.length;
          this.#settled(batch.length, bytes);
          this.#warn({ err: (err as Error).message, messages: batch.length }, 'publish to Redis failed');
          for (const b of batch) this.#done(b.done, false);
        },
      );
  }

  /** Calls a publish callback; one that throws is logged (it runs in a promise callback: nothing may escape). */
  #done(done: ((ok: boolean) => void) | undefined, ok: boolean): void {
    try {
      done?.(ok);
    } catch (err) {
      this.#warn({ err: (err as Error).message }, 'publish callback failed');
    }
  }

  /**
   * Backlog entries after `afterId`, oldest first: at most `count`, read in
   * pages and stopped once `maxBytes` have been read (`truncated`: more
   * follow; the relay gets them by resuming again). What a replay holds in
   * memory is bounded however large the backlog is.
   */
  async replay(
    user: string,
    afterId: string,
    count: number,
    maxBytes = Infinity,
  ): Promise<{ messages: BackMessage[]; truncated: boolean }> {
    const out: BackMessage[] = [];
    let after = afterId;
    let bytes = 0;
    let read = 0;
    for (;;) {
      const page = Math.min(REPLAY_PAGE, count - read);
      const rows = (await this.#conn.run('XRANGE backlog', (c) =>
        c.sendCommand(['XRANGE', userBacklogKey(user), `(${after}`, '+', 'COUNT', String(page)], BUFFERS),
      )) as [Buffer, Buffer[]][];
      for (const [idBuf, fields] of rows) {
        after = idBuf.toString();
        read++;
        const f = new Map<string, Buffer>();
        for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!.toString(), fields[i + 1]!);
        const kind = f.get('kind')?.toString() ?? '';
        const m = f.get('m');
        if (!isBackKind(kind) || !m) continue;
        bytes += m.length;
        const checked = this.#check(kind, m);
        if (checked) out.push({ user, kind, id: after, message: checked });
      }
      if (rows.length < page || read >= count) return { messages: out, truncated: false };
      if (bytes >= maxBytes) return { messages: out, truncated: true };
    }
  }

  get health(): string {
    return this.#conn.health === 'ready' && this.#sub.health === 'ready' ? 'ready' : 'degraded';
  }

  /** Back-channel messages the subscriber refused (undecodable or not matching their shape). */
  get malformed(): number {
    let n = 0;
    for (const k of BACK_KINDS) n += this.#sub.stats.patterns[userPattern(k)]?.malformed ?? 0;
    return n;
  }

  /** Unsubscribes (the subscriber and connection belong to the caller). */
  async close(): Promise<void> {
    await Promise.all(this.#subscriptions.splice(0).map((s) => s.unsubscribe().catch(() => undefined)));
  }

  #check(kind: BackKind, payload: Buffer): Record<string, unknown> | undefined {
    try {
      const { value } = this.#opts.codec.decode(payload);
      const r = this.#opts.validator.validate(kind, value);
      if (r.ok) return r.value as unknown as Record<string, unknown>;
      this.#warn({ kind, error: r.error }, 'back-channel message refused');
    } catch (err) {
      this.#warn({ kind, error: (err as Error).message }, 'back-channel message undecodable');
    }
    return undefined;
  }

  #onMessage(message: Record<string, unknown>, channel: string): void {
    this.stats.backReceived++;
    const ch = parseUserChannel(channel);
    if (!ch || !isBackKind(ch.kind)) return;
    if (!this.#opts.isKnownUser(ch.user)) {
      this.stats.backUnknownUser++;
      return;
    }
    const { user, kind } = ch;
    const payload = this.#opts.codec.encode(message, 'msgpack');
    let q = this.#appends.get(user);
    if (!q) this.#appends.set(user, (q = { items: [], busy: false }));
    q.items.push({ kind, key: this.#keys.key(user, kind, payload), payload, message });
    if (!q.busy) this.#append(user, q);
  }

  /**
   * Appends a user's queued messages to the backlog, in order, one script
   * call at a time per user (several users' calls overlap): every gateway
   * appends every message and the script adds each once, giving all of them
   * the same id. One call in flight per user keeps the ids in the order of
   * arrival even when Redis answers NOSCRIPT and the call is repeated.
   */
  #append(user: string, q: AppendQueue): void {
    const batch = q.items.splice(0, APPEND_BATCH);
    if (batch.length === 0) {
      this.#appends.delete(user);
      return;
    }
    q.busy = true;
    const args: Array<string | Buffer> = [
      String(Math.max(0, Date.now() - this.#opts.windowMs)),
      String(this.#opts.windowMs),
    ];
    for (const b of batch) args.push(b.key, b.kind, b.payload);
    const keys = [userBacklogKey(user), userBacklogSeenKey(user, onCluster(this.#conn.options))];
    this.#conn
      .run('script backlog-append', (c) => c['backlog-append'](keys, args))
      .then(
        (reply) => {
          const r = reply as unknown[];
          batch.forEach((b, i) => {
            if (Number(r[2 * i + 1]) === 0) this.stats.backlogShared++;
            this.#opts.onBack({ user, kind: b.kind, id: String(r[2 * i]), message: b.message });
          });
        },
        (err: unknown) => {
          this.stats.backlogErrors += batch.length;
          this.#warn({ err: (err as Error).message, user }, 'backlog write failed; delivering live only');
          for (const b of batch) this.#opts.onBack({ user, kind: b.kind, id: null, message: b.message });
        },
      )
      // a hand-on that throws is logged: nothing may escape a promise callback
      .catch((err: unknown) =>
        this.#warn({ err: (err as Error).message, user }, 'handing on back-channel messages failed'),
      )
      .finally(() => {
        q.busy = false;
        this.#append(user, q);
      });
  }

  #warn(obj: object, msg: string): void {
    const now = Date.now();
    if (now - this.#lastWarn < 1000) return;
    this.#lastWarn = now;
    this.#opts.logger.warn(obj, msg);
  }
}
