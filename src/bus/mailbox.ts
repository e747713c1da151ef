import { EventEmitter } from 'node:events';
import {
  MAILBOX_KEYS,
  MAX_ADMIN_MESSAGE_BYTES,
  parseAdminMessage,
  type AdminMessage,
  type AdminReply,
  type MailboxKeys,
} from './admin-message.js';
import type { Codec } from './codec.js';
import type { Connection } from './connection.js';
import { ConfigError } from './errors.js';
import type { FabricFiles } from './fallback/records.js';
import type { BusLogger } from './log.js';
import { silentLogger } from './log.js';
import { Subscriber, type Subscription } from './subscriber.js';

/** Passes the payload through as text: the mailbox needs the exact bytes for LREM. */
const textCodec: Codec = {
  name: 'text',
  encode: (v) => String(v),
  decode: (d) => (typeof d === 'string' ? d : d.toString('utf8')),
};

export * from './admin-message.js';
export * from './admin-send.js';

/** Runs one command; what it returns is the reply's `result`, what it throws its `error`. */
export type CommandHandler = (args: Record<string, unknown>, message: AdminMessage) => unknown;

/** How an instance receives its admin messages. */
export interface MailboxOptions extends MailboxKeys {
  /** This process's instance name. Required. */
  instance: string;
  /** @defaultValue 5000 — the queue is drained this often too (a PUBLISH missed during a reconnect). */
  drainIntervalMs: number;
  /** @defaultValue 300 — TTL of a reply list, seconds. */
  replyTtlSeconds: number;
  /** @defaultValue 1000 — message ids remembered to drop a second delivery. */
  seenCapacity: number;
  /** @defaultValue 65536 — bigger admin messages are counted as rejected and dropped unread. */
  maxMessageBytes: number;
  /** @defaultValue its own — a shared {@link Subscriber} saves a connection (it is not closed by the mailbox). */
  subscriber: Subscriber | undefined;
  /** @defaultValue silent */
  logger: BusLogger;
  /**
   * @defaultValue none — the file queue `admin/<instance>/` is drained too (first, at
   * every drain): messages sent while Redis was unreachable. Each file is claimed
   * (renamed) before it is handled, so it is handled once; its reply goes to a file.
   */
  files: FabricFiles | undefined;
  /** @defaultValue 1000 — how often the file queue is looked at (a directory listing) between drains. */
  filePollMs: number;
  /** @defaultValue true — `false` reads the file queue only. */
  useRedis: boolean;
}

export const MAILBOX_DEFAULTS: Omit<MailboxOptions, 'instance'> = {
  ...MAILBOX_KEYS,
  subscriber: undefined,
  drainIntervalMs: 5000,
  replyTtlSeconds: 300,
  seenCapacity: 1000,
  maxMessageBytes: MAX_ADMIN_MESSAGE_BYTES,
  logger: silentLogger,
  files: undefined,
  filePollMs: 1000,
  useRedis: true,
};

export interface MailboxStats {
  handled: number;
  /** Second deliveries of a message (pub/sub after the drain, or the other way round): dropped. */
  duplicates: number;
  /** Not JSON or not an admin message: logged, dropped. */
  rejected: number;
  expired: number;
  failed: number;
}

/** How a message reached the mailbox. */
export type Via = 'pubsub' | 'queue' | 'file';

export interface MailboxEvents {
  handled: [message: AdminMessage, reply: AdminReply, via: Via];
}

/**
 * The receiving end of `admin:{instance}`. Each message is handled exactly
 * once although it arrives twice (PUBLISH and the queue): a pub/sub copy is
 * handled only if `LREM` removed it from the queue, and the drain (one Lua
 * call: LRANGE + DEL) takes only what is still queued. The subscription is
 * made before the first drain, so nothing sent around the start is missed.
 * Built in: `ping` and `help`; add more with {@link handle}.
 */
export class Mailbox extends EventEmitter<MailboxEvents> {
  readonly options: MailboxOptions;
  readonly #conn: Connection;
  readonly #handlers = new Map<string, CommandHandler>();
  readonly #seen = new Set<string>();
  readonly #started = performance.now();
  #sub: Subscriber | undefined;
  #ownSub = false;
  #subscription: Subscription | undefined;
  readonly #onResubscribed = () => void this.drain();
  #timer: NodeJS.Timeout | undefined;
  #fileTimer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #stats: MailboxStats = { handled: 0, duplicates: 0, rejected: 0, expired: 0, failed: 0 };

  constructor(conn: Connection, options: Partial<MailboxOptions> & Pick<MailboxOptions, 'instance'>) {
    super();
    const o = { ...MAILBOX_DEFAULTS, ...options };
    if (!o.instance) throw new ConfigError('instance must not be empty');
    if (!o.useRedis && !o.files) throw new ConfigError('useRedis: false needs files');
    if (!(o.drainIntervalMs > 0) || !(o.filePollMs > 0))
      throw new ConfigError('drainIntervalMs and filePollMs must be > 0');
    this.options = o;
    this.#conn = conn;
    this.handle('ping', () => ({
      pong: true,
      instance: o.instance,
      uptime_s: Math.round((performance.now() - this.#started) / 1000),
    }));
    this.handle('help', () => ({ commands: [...this.#handlers.keys()].sort() }));
  }

  get channel(): string {
    return `${this.options.channelPrefix}${this.options.instance}`;
  }

  get queue(): string {
    return `${this.options.queuePrefix}${this.options.instance}`;
  }

  get stats(): MailboxStats {
    return { ...this.#stats };
  }

  /** Registers (or replaces) the handler of a command. */
  handle(command: string, handler: CommandHandler): this {
    this.#handlers.set(command, handler);
    return this;
  }

  /** Subscribes (when Redis is used), then drains what was queued while this instance was down. */
  async start(): Promise<void> {
    if (this.options.useRedis) await this.#subscribe();
    await this.drain();
    this.#timer = setInterval(() => void this.drain(), this.options.drainIntervalMs);
    this.#timer.unref();
    const files = this.options.files;
    if (files) {
      this.#fileTimer = setInterval(() => void this.#serial(() => this.#drainFiles(files)), this.options.filePollMs);
      this.#fileTimer.unref();
    }
  }

  async #subscribe(): Promise<void> {
    let sub = this.options.subscriber;
    if (!sub) {
      sub = await Subscriber.create(this.#conn, {
        connection: { clientName: `${this.#conn.options.clientName}-mailbox` },
      });
      this.#ownSub = true;
    }
    this.#sub = sub;
    this.#subscription = await sub.subscribe<string>(this.channel, (msg) => this.#serial(() => this.#fromPubsub(msg)), {
      codec: textCodec,
    });
    sub.on('resubscribed', this.#onResubscribed);
  }

  /** Takes and handles everything queued, the file queue first (also run periodically). */
  drain(): Promise<void> {
    return this.#serial(async () => {
      if (this.#closed) return;
      if (this.options.files) await this.#drainFiles(this.options.files);
      if (!this.options.useRedis || !this.#conn.isReady) return;
      let msgs: unknown;
      try {
        msgs = await this.#conn.runScript('mailbox-drain', [this.queue], []);
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message }, 'admin queue drain failed');
        return;
      }
      for (const raw of msgs as string[]) await this.#process(String(raw), 'queue');
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearInterval(this.#fileTimer);
    this.#sub?.off('resubscribed', this.#onResubscribed);
    // with Redis gone the UNSUBSCRIBE would only wait out its timeout: the subscription ends with the connection
    if (this.#sub?.isReady) await this.#subscription?.unsubscribe().catch(() => undefined);
    await this.#chain;
    if (this.#ownSub) await this.#sub?.close();
  }

  async #drainFiles(files: FabricFiles): Promise<void> {
    if (this.#closed) return;
    try {
      for await (const c of files.takeAdmin(this.options.instance, this.options.maxMessageBytes)) {
        if (this.#closed) {
          await c.giveBack();
          return;
        }
        await this.#process(c.value ? JSON.stringify(c.value) : c.text, 'file');
        await c.done();
      }
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'admin file queue drain failed');
    }
  }

  async #fromPubsub(raw: string): Promise<void> {
    if (this.#closed) return;
    let removed: number;
    try {
      removed = await this.#conn.run(`LREM ${this.queue}`, (c) => c.lRem(this.queue, 1, raw));
    } catch (err) {
      // Cannot tell whether the drain has it: leave it to the drain.
      this.options.logger.warn({ err: (err as Error).message }, 'admin message claim failed; left for the drain');
      return;
    }
    if (removed === 0) {
      this.#stats.duplicates++;
      return;
    }
    await this.#process(raw, 'pubsub');
  }

  async #process(raw: string, via: Via): Promise<void> {
    const log = this.options.logger;
    const parsed = parseAdminMessage(raw, this.options.maxMessageBytes);
    if (typeof parsed === 'string') {
      this.#stats.rejected++;
      log.warn({ via, err: parsed, bytes: raw.length }, 'malformed admin message rejected');
      return;
    }
    const msg = parsed;
    if (this.#seen.has(msg.id)) {
      this.#stats.duplicates++;
      return;
    }
    this.#remember(msg.id);
    if (msg.expires_at && Date.parse(msg.expires_at) < Date.now()) {
      this.#stats.expired++;
      log.info({ id: msg.id, command: msg.command }, 'expired admin message dropped');
      return;
    }
    const reply: AdminReply = {
      id: msg.id,
      instance: this.options.instance,
      command: msg.command,
      ok: true,
      handled_at: '',
    };
    const handler = this.#handlers.get(msg.command);
    try {
      if (!handler)
        throw new Error(`unknown command "${msg.command}" (known: ${[...this.#handlers.keys()].sort().join(', ')})`);
      reply.result = await handler(msg.args, msg);
      this.#stats.handled++;
    } catch (err) {
      reply.ok = false;
      reply.error = (err as Error).message;
      this.#stats.failed++;
    }
    reply.handled_at = new Date().toISOString();
    log.info({ id: msg.id, command: msg.command, via, ok: reply.ok, from: msg.from }, 'admin message handled');
    if (via === 'file') {
      await this.options.files
        ?.writeReply(reply, this.options.replyTtlSeconds)
        .catch((err: unknown) => log.warn({ err: (err as Error).message, id: msg.id }, 'admin reply file failed'));
    } else if (typeof msg.reply_to === 'string' && msg.reply_to.startsWith(this.options.replyPrefix)) {
      const key = msg.reply_to;
      await this.#conn
        .run(`reply ${key}`, (c) =>
          c.multi().rPush(key, JSON.stringify(reply)).expire(key, this.options.replyTtlSeconds).exec(),
        )
        .catch((err: unknown) => log.warn({ err: (err as Error).message, id: msg.id }, 'admin reply failed'));
    }
    this.emit('handled', msg, reply, via);
  }

  #remember(id: string): void {
    this.#seen.add(id);
    if (this.#seen.size > this.options.seenCapacity) {
      const first = this.#seen.values().next().value;
      if (first !== undefined) this.#seen.delete(first);
    }
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(fn, fn).catch((err: unknown) => {
      this.options.logger.error({ err: (err as Error).message }, 'mailbox step failed');
    });
    return this.#chain;
  }
}
