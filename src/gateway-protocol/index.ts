import type { BackKind, UserCodecName } from '../contracts/user-channels.js';

/**
 * The WebSocket protocol between an edge relay and `canopy gateway`.
 *
 * Connect: `GET <base>/relay/<user>?codec=msgpack|json&resume=<id>` with
 * `Authorization: Bearer <token>`. A bad user or token gets HTTP 401 before
 * the upgrade. `codec` (default msgpack) is the encoding of the frames the
 * gateway sends; the relay may send either (binary MessagePack or text JSON).
 * `resume` is the `id` of the last `deliver` frame the relay saw: the
 * gateway first replays what its backlog holds after it.
 *
 * Relay → gateway: one message per frame, `{"type":"raw",…}` or
 * `{"type":"features",…}` (docs/contracts.md), published on the relay's own
 * `user:{id}:raw|features`. Invalid messages are answered with an `error`
 * frame and counted; the connection stays open. A request the gateway
 * cannot parse (request line, URL, headers, handshake) is answered with
 * HTTP 400 and only that socket is closed.
 *
 * Gateway → relay: `welcome`, then `deliver` frames for everything published
 * on `user:{id}:predictions|commands|alerts`, and `error` frames.
 */

/** Sent once after the upgrade. */
export interface WelcomeFrame {
  type: 'welcome';
  user: string;
  /** Connection id, for logs on both sides. */
  connection: string;
  /** How many backlog entries follow (0 without `resume`). */
  replayed: number;
  limits: { maxMessageBytes: number; ratePerSecond: number; rateBurst: number };
}

/** One back-channel message. */
export interface DeliverFrame {
  type: 'deliver';
  kind: BackKind;
  /** Backlog stream id (`<ms>-<seq>`): pass the last one seen as `resume` when reconnecting. */
  id: string | null;
  message: Record<string, unknown>;
}

/**
 * A refused message; the connection stays open. Codes:
 * - `malformed`: neither MessagePack nor JSON (or JSON that is not UTF-8);
 * - `limit`: over a decode limit — nested deeper than 32 maps/arrays, or a
 *   string/binary/array/map header claiming more than the message holds;
 * - `invalid`: decoded, but not a `raw`/`features` message of the shape docs/contracts.md gives;
 * - `unavailable`: Redis did not take it (or the backlog cannot be read).
 */
export interface ErrorFrame {
  type: 'error';
  code: 'malformed' | 'limit' | 'invalid' | 'unavailable';
  error: string;
}

export type ServerFrame = WelcomeFrame | DeliverFrame | ErrorFrame;

/** WebSocket close codes the gateway uses, each with a reason text. */
export const CLOSE = {
  /** Normal shutdown (the gateway is stopping). */
  normal: 1000,
  goingAway: 1001,
  /** Policy: rate limit exceeded, too slow to keep up, too many connections. */
  policy: 1008,
  /** A message over the size limit. */
  tooBig: 1009,
  /** An unexpected error while handling this connection (counted; only this connection is closed). */
  internal: 1011,
  /** The gateway cannot serve now (Redis unavailable). */
  tryAgain: 1013,
} as const;

export const RELAY_PATH = '/relay';
export const DEFAULT_CODEC: UserCodecName = 'msgpack';

/** Redis stream ids as `[ms, seq]`; `undefined` when malformed. */
export function parseStreamId(id: string): [bigint, bigint] | undefined {
  const m = /^(\d{1,20})-(\d{1,20})$/.exec(id);
  return m ? [BigInt(m[1]!), BigInt(m[2]!)] : undefined;
}

/** Negative, zero or positive, as `a` is before, equal to or after `b`. */
export function compareStreamIds(a: string, b: string): number {
  const x = parseStreamId(a);
  const y = parseStreamId(b);
  if (!x || !y) throw new Error(`not a stream id: ${x ? b : a}`);
  if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
  if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
  return 0;
}
