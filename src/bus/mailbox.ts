import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Connection } from './connection.js';
import { ConfigError, TimeoutError } from './errors.js';
import { createJsonCodec, type Codec } from './codec.js';
import { DecodeError } from './errors.js';
import { LuaScript } from './fabric-lua.js';
import type { BusLogger } from './log.js';
import { silentLogger } from './log.js';
import { Subscriber, type Subscription } from './subscriber.js';

/** Passes the payload through as text: the mailbox needs the exact bytes for LREM. */
const textCodec: Codec = {
  name: 'text',
  encode: (v) => String(v),
  decode: (d) => (typeof d === 'string' ? d : d.toString('utf8')),
};

/** An admin message as it travels on `admin:{instance}` and in `admin:queue:{instance}`. */
export interface AdminMessage {
  id: string;
  command: string;
  args: Record<string, unknown>;
  /** Who sent it (free text, e.g. `canopy admin`). */
  from: string;
  /** ISO-8601 UTC. */
  sent_at: string;
  /** ISO-8601 UTC; a message found after this is dropped (logged), not handled. */
  expires_at: string;
  /** List key the reply is pushed to. */
  reply_to: string;
}

/** What the handler of a message answers. */
export interface AdminReply {
  id: string;
  instance: string;
  command: string;
  ok: boolean;
  result?: unknown;
  error?: string;
  /** ISO-8601 UTC. */
  handled_at: string;
}

/** Key names of the mailbox; shared by sender and receiver. */
export interface MailboxKeys {
  /** @defaultValue `admin:` — channel `admin:{instance}`. */
  channelPrefix: string;
  /** @defaultValue `admin:queue:` — list `admin:queue:{instance}`. */
  queuePrefix: string;
  /** @defaultValue `admin:reply:` — reply list `admin:reply:{id}`. */
  replyPrefix: string;
}

export const MAILBOX_KEYS: MailboxKeys = {
  channelPrefix: 'admin:',
  queuePrefix: 'admin:queue:',
  replyPrefix: 'admin:reply:',
};

/** Options of {@link sendAdminMessage}. */
export interface SendAdminOptions extends MailboxKeys {
  /** @defaultValue 3600 — TTL of the queue list (refreshed by each send) and the message's lifetime, seconds. */
  ttlSeconds: number;
  /** @defaultValue 5000 — how long to wait for the reply; 0 sends without waiting. */
  replyTimeoutMs: number;
  /** @defaultValue `canopy` */
  from: string;
}

export const SEND_ADMIN_DEFAULTS: SendAdminOptions = {
  ...MAILBOX_KEYS,
  ttlSeconds: 3600,
  replyTimeoutMs: 5000,
  from: 'canopy',
};

/**
 * Sends `command` to one instance: RPUSH to its queue (with the TTL) and
 * PUBLISH on its channel, in one MULTI. Waits for the reply (BLPOP on the
 * reply list, on a connection of its own) unless `replyTimeoutMs` is 0.
 * Throws {@link TimeoutError} when no reply came in time (the message stays
 * queued for the instance's next start until it expires).
 */
export async function sendAdminMessage(
  conn: Connection,
  instance: string,
  command: string,
  args: Record<string, unknown> = {},
  options: Partial<SendAdminOptions> = {},
): Promise<{ message: AdminMessage; reply: AdminReply | null; receivers: number }> {
  const o = { ...SEND_ADMIN_DEFAULTS, ...options };
  if (!instance || !command) throw new ConfigError('instance and command are required');
  const now = Date.now();
  const id = randomUUID();
  const message: AdminMessage = {
    id,
    command,
    args,
    from: o.from,
    sent_at: new Date(now).toISOString(),
    expires_at: new Date(now + o.ttlSeconds * 1000).toISOString(),
    reply_to: `${o.replyPrefix}${id}`,
  };
  const raw = JSON.stringify(message);
  const queue = `${o.queuePrefix}${instance}`;
  const channel = `${o.channelPrefix}${instance}`;
  const res = await conn.run(`admin message to ${instance}`, (c) =>
    c.multi().rPush(queue, raw).expire(queue, o.ttlSeconds).publish(channel, raw).exec(),
  );
  const receivers = Number(res[2]);
  if (o.replyTimeoutMs <= 0) return { message, reply: null, receivers };
  const waiter = await conn.duplicate({
    clientName: `${conn.options.clientName}-admin`,
    commandTimeoutMs: o.replyTimeoutMs + 5000,
  });
  try {
    const got = await waiter.run(`BLPOP ${message.reply_to}`, (c) =>
      c.blPop(message.reply_to, o.replyTimeoutMs / 1000),
    );
    if (!got)
      throw new TimeoutError(`no reply from ${instance} within ${o.replyTimeoutMs} ms (the message stays queued)`);
    let reply: AdminReply;
    try {
      reply = JSON.parse(String(got.element)) as AdminReply;
    } catch (cause) {
      throw new DecodeError(`the reply of ${instance} is not JSON`, { cause });
    }
    return { message, reply, receivers };
  } finally {
    await waiter.close();
  }
}

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
}

export const MAILBOX_DEFAULTS: Omit<MailboxOptions, 'instance'> = {
  ...MAILBOX_KEYS,
  subscriber: undefined,
  drainIntervalMs: 5000,
  replyTtlSeconds: 300,
  seenCapacity: 1000,
  maxMessageBytes: 65536,
  logger: silentLogger,
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

export interface MailboxEvents {
  handled: [message: AdminMessage, reply: AdminReply, via: 'pubsub' | 'queue'];
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
  readonly #drain = new LuaScript('mailbox-drain');
  readonly #started = Date.now();
  #sub: Subscriber | undefined;
  #ownSub = false;
  #subscription: Subscription | undefined;
  readonly #onResubscribed = () => void this.drain();
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #stats: MailboxStats = { handled: 0, duplicates: 0, rejected: 0, expired: 0, failed: 0 };

  constructor(conn: Connection, options: Partial<MailboxOptions> & Pick<MailboxOptions, 'instance'>) {
    super();
    const o = { ...MAILBOX_DEFAULTS, ...options };
    if (!o.instance) throw new ConfigError('instance must not be empty');
    this.options = o;
    this.#conn = conn;
    this.handle('ping', () => ({
      pong: true,
      instance: o.instance,
      uptime_s: Math.round((Date.now() - this.#started) / 1000),
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

  /** Subscribes, then drains what was queued while this instance was down. */
  async start(): Promise<void> {
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
    await this.drain();
    this.#timer = setInterval(() => void this.drain(), this.options.drainIntervalMs);
    this.#timer.unref();
  }

  /** Takes and handles everything queued (also run periodically). */
  drain(): Promise<void> {
    return this.#serial(async () => {
      if (this.#closed || !this.#conn.isReady) return;
      let msgs: unknown;
      try {
        msgs = await this.#drain.run(this.#conn, [this.queue], []);
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
    this.#sub?.off('resubscribed', this.#onResubscribed);
    await this.#subscription?.unsubscribe().catch(() => undefined);
    await this.#chain;
    if (this.#ownSub) await this.#sub?.close();
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

  async #process(raw: string, via: 'pubsub' | 'queue'): Promise<void> {
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
    if (typeof msg.reply_to === 'string' && msg.reply_to.startsWith(this.options.replyPrefix)) {
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

const adminJson = createJsonCodec({ maxDepth: 32 });
const MAX_FIELD = 256;

function plainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads one admin message as it comes off `admin:{instance}` or the queue.
 * Never throws: returns the message (with `args` defaulting to `{}`) or why
 * it is refused — over `maxBytes`, not JSON, nested deeper than 32, not an
 * object, `id`/`command` missing or not short strings, `args` not an
 * object, `from`/`sent_at`/`expires_at`/`reply_to` not strings.
 */
export function parseAdminMessage(raw: string, maxBytes = MAILBOX_DEFAULTS.maxMessageBytes): AdminMessage | string {
  if (raw.length > maxBytes) return `message of ${raw.length} characters exceeds ${maxBytes}`;
  let v: unknown;
  try {
    v = adminJson.decode(raw);
  } catch (err) {
    return (err as Error).message;
  }
  if (!plainObject(v)) return 'not a JSON object';
  for (const k of ['id', 'command'] as const) {
    const f = v[k];
    if (typeof f !== 'string' || f === '' || f.length > MAX_FIELD) return `${k} must be a string of 1–${MAX_FIELD}`;
  }
  for (const k of ['from', 'sent_at', 'expires_at', 'reply_to'] as const) {
    const f = v[k];
    if (f !== undefined && (typeof f !== 'string' || f.length > MAX_FIELD)) {
      return `${k} must be a string of at most ${MAX_FIELD}`;
    }
  }
  if (v.args !== undefined && v.args !== null && !plainObject(v.args)) return 'args must be an object';
  return { ...(v as unknown as AdminMessage), args: (v.args as Record<string, unknown> | null | undefined) ?? {} };
}
