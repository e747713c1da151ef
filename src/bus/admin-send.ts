import { randomUUID } from 'node:crypto';
import { MAILBOX_KEYS, type AdminMessage, type AdminReply, type MailboxKeys } from './admin-message.js';
import type { Connection } from './connection.js';
import { ClosedError, ConfigError, ConnectionError, DecodeError, TimeoutError } from './errors.js';
import type { FabricFiles } from './fallback/records.js';

/** Options of {@link sendAdminMessage}. */
export interface SendAdminOptions extends MailboxKeys {
  /** @defaultValue 3600 — TTL of the queue list (refreshed by each send) and the message's lifetime, seconds. */
  ttlSeconds: number;
  /** @defaultValue 5000 — how long to wait for the reply; 0 sends without waiting. */
  replyTimeoutMs: number;
  /** @defaultValue `canopy` */
  from: string;
  /**
   * @defaultValue none — while Redis is unreachable (or always, with `useRedis: false`)
   * the message is written to `admin/<instance>/<seq>.json` and the reply read from
   * `admin-replies/<id>.json`.
   */
  files: FabricFiles | undefined;
  /** @defaultValue true — `false` sends through `files` only. */
  useRedis: boolean;
  /** @defaultValue 200 — how often the reply file is looked for. */
  replyPollMs: number;
}

export const SEND_ADMIN_DEFAULTS: SendAdminOptions = {
  ...MAILBOX_KEYS,
  ttlSeconds: 3600,
  replyTimeoutMs: 5000,
  from: 'canopy',
  files: undefined,
  useRedis: true,
  replyPollMs: 200,
};

/** What {@link sendAdminMessage} did. */
export interface SentAdminMessage {
  message: AdminMessage;
  reply: AdminReply | null;
  /** Pub/sub receivers (0 through the files). */
  receivers: number;
  /** Where the message went. */
  via: 'redis' | 'file';
}

/**
 * Sends `command` to one instance: RPUSH to its queue (with the TTL) and
 * PUBLISH on its channel, in one MULTI. Waits for the reply (BLPOP on the
 * reply list, on a connection of its own) unless `replyTimeoutMs` is 0.
 * With `files`, while Redis is unreachable (or with `useRedis: false`) the
 * message is queued as a file instead and the reply awaited as a file.
 * Throws {@link TimeoutError} when no reply came in time (the message stays
 * queued for the instance's next start until it expires).
 */
export async function sendAdminMessage(
  conn: Connection | undefined,
  instance: string,
  command: string,
  args: Record<string, unknown> = {},
  options: Partial<SendAdminOptions> = {},
): Promise<SentAdminMessage> {
  const o = { ...SEND_ADMIN_DEFAULTS, ...options };
  if (!instance || !command) throw new ConfigError('instance and command are required');
  if (!(o.ttlSeconds > 0) || !(o.replyTimeoutMs >= 0)) throw new ConfigError('ttlSeconds > 0 and replyTimeoutMs >= 0');
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
  const redisUp = o.useRedis && conn !== undefined && (conn.isReady || !o.files);
  if (redisUp) {
    try {
      return await sendViaRedis(conn, instance, message, o);
    } catch (err) {
      const unreachable =
        err instanceof ClosedError || (err instanceof ConnectionError && !(err instanceof TimeoutError));
      // A reply timeout is not an outage: the message is queued in Redis.
      if (!o.files || !unreachable || conn.isReady) throw err;
    }
  }
  if (!o.files) throw new ConfigError('Redis is not used and no fallback files were given');
  await o.files.enqueueAdmin(instance, message);
  if (o.replyTimeoutMs <= 0) return { message, reply: null, receivers: 0, via: 'file' };
  const until = performance.now() + o.replyTimeoutMs;
  for (;;) {
    const reply = await o.files.takeReply(id);
    if (reply) return { message, reply, receivers: 0, via: 'file' };
    if (performance.now() >= until)
      throw new TimeoutError(`no reply from ${instance} within ${o.replyTimeoutMs} ms (the message stays queued)`);
    await new Promise((r) => setTimeout(r, o.replyPollMs));
  }
}

async function sendViaRedis(
  conn: Connection,
  instance: string,
  message: AdminMessage,
  o: SendAdminOptions,
): Promise<SentAdminMessage> {
  const raw = JSON.stringify(message);
  const queue = `${o.queuePrefix}${instance}`;
  const channel = `${o.channelPrefix}${instance}`;
  const res = await conn.run(`admin message to ${instance}`, (c) =>
    c.multi().rPush(queue, raw).expire(queue, o.ttlSeconds).publish(channel, raw).exec(),
  );
  const receivers = Number(res[2]);
  if (o.replyTimeoutMs <= 0) return { message, reply: null, receivers, via: 'redis' };
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
    return { message, reply, receivers, via: 'redis' };
  } finally {
    await waiter.close();
  }
}
