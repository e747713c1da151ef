import { createJsonCodec } from './codec.js';

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

/** @defaultValue of the biggest admin message a receiver reads, characters. */
export const MAX_ADMIN_MESSAGE_BYTES = 65536;

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
export function parseAdminMessage(raw: string, maxBytes = MAX_ADMIN_MESSAGE_BYTES): AdminMessage | string {
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
