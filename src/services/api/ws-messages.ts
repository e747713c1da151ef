import type { UserFeedMessage } from './user-feed.js';

/**
 * What a /ws client may send, and the guard that reads it: every message is
 * either one of these or a counted refusal with a reason — never an
 * exception.
 */
export type ClientMessage =
  | { type: 'subscribe'; location?: string | undefined; cluster?: string | undefined }
  | { type: 'auth'; token: string }
  | UserFeedMessage;

export type ParsedMessage =
  | { ok: true; message: ClientMessage }
  | { ok: false; reason: 'binary' | 'too_deep' | 'not_json' | 'unknown' | 'invalid'; error: string };

/** Deepest nesting of arrays/objects a client message may have. */
export const MAX_MESSAGE_DEPTH = 32;

/** Longest token accepted in an auth message (tokens are short; anything longer is not one). */
const MAX_TOKEN_LENGTH = 512;

/** Nesting depth of JSON text, found without parsing it (strings skipped); stops once past `limit`. */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
      continue;
    }
    if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return max;
}

const fail = (reason: Exclude<ParsedMessage, { ok: true }>['reason'], error: string): ParsedMessage => ({
  ok: false,
  reason,
  error,
});

/** Reads one client message (the WebSocket library has already capped its size and checked its UTF-8). */
export function parseClientMessage(data: unknown, isBinary: boolean): ParsedMessage {
  if (isBinary) return fail('binary', 'messages must be JSON text, not binary');
  const text = Buffer.isBuffer(data)
    ? data.toString('utf8')
    : Array.isArray(data)
      ? Buffer.concat(data as Buffer[]).toString('utf8')
      : data instanceof ArrayBuffer
        ? Buffer.from(data).toString('utf8')
        : String(data);
  if (jsonDepth(text, MAX_MESSAGE_DEPTH) > MAX_MESSAGE_DEPTH) {
    return fail('too_deep', `message nests deeper than ${MAX_MESSAGE_DEPTH} levels`);
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return fail('not_json', 'message is not JSON');
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) {
    return fail('unknown', 'unknown message: expected {"type":"subscribe",…} or {"type":"auth","token":…}');
  }
  const o = m as Record<string, unknown>;
  if (o.type === 'auth') {
    if (typeof o.token !== 'string' || o.token === '' || o.token.length > MAX_TOKEN_LENGTH) {
      return fail('invalid', 'auth needs a token string');
    }
    return { ok: true, message: { type: 'auth', token: o.token } };
  }
  // the per-user live feed (user-feed.ts): {"type":"subscribe","user":…} / {"type":"unsubscribe","user":…}
  if ((o.type === 'subscribe' && o.user !== undefined) || o.type === 'unsubscribe') {
    if (typeof o.user !== 'string' || o.user === '' || o.user.length > 64) {
      return fail('invalid', 'user must be a non-empty string (at most 64 characters)');
    }
    if (o.location !== undefined || o.cluster !== undefined) {
      return fail('invalid', 'a user subscription takes no location or cluster: send two messages');
    }
    return { ok: true, message: { type: o.type, user: o.user } };
  }
  if (o.type !== 'subscribe') {
    return fail('unknown', 'unknown message: expected {"type":"subscribe","location"?,"cluster"?} or {"type":"auth"}');
  }
  for (const k of ['location', 'cluster'] as const) {
    if (o[k] !== undefined && (typeof o[k] !== 'string' || o[k] === '' || o[k].length > 200)) {
      return fail('invalid', `${k} must be a non-empty string (at most 200 characters)`);
    }
  }
  return {
    ok: true,
    message: {
      type: 'subscribe',
      location: o.location as string | undefined,
      cluster: o.cluster as string | undefined,
    },
  };
}
