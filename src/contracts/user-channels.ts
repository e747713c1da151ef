import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { createJsonCodec, createMsgpackCodec, type Codec } from '../bus/codec.js';
import { resolveDecodeLimits, type DecodeLimits } from '../bus/decode-limits.js';
import { ValidationError } from '../bus/errors.js';
import type { Validator } from '../bus/validate.js';

/**
 * Per-user channels (docs/contracts.md): `user:{id}:raw` and `user:{id}:features`
 * carry data from an edge relay to consumers; `user:{id}:predictions`,
 * `:commands` and `:alerts` carry answers back. Payloads are MessagePack
 * by default; JSON is accepted everywhere and written on request.
 * `user:{id}:backlog` is a short stream the gateway keeps beside the
 * back-channels so a relay that reconnects gets what it missed.
 */

/** Edge relay → consumers. */
export const FORWARD_KINDS = ['raw', 'features'] as const;
/** Consumers → edge relay. */
export const BACK_KINDS = ['predictions', 'commands', 'alerts'] as const;
export const USER_CHANNEL_KINDS = [...FORWARD_KINDS, ...BACK_KINDS] as const;

export type ForwardKind = (typeof FORWARD_KINDS)[number];
export type BackKind = (typeof BACK_KINDS)[number];
export type UserChannelKind = (typeof USER_CHANNEL_KINDS)[number];

/** The `type` field each kind's messages carry. */
export const MESSAGE_TYPE: Record<UserChannelKind, string> = {
  raw: 'raw',
  features: 'features',
  predictions: 'prediction',
  commands: 'command',
  alerts: 'alert',
};

/** User ids are used verbatim in channel names and ACL patterns: no glob characters, no colons. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export function isUserId(user: string): boolean {
  return USER_ID_PATTERN.test(user);
}

/** Throws a {@link ValidationError} unless `user` is a valid user id. */
export function checkUserId(user: string): string {
  if (!isUserId(user)) {
    throw new ValidationError(
      `invalid user id ${JSON.stringify(user)}: 1–64 characters from A–Z a–z 0–9 _ . - (no colons or glob characters)`,
    );
  }
  return user;
}

export function isUserChannelKind(kind: string): kind is UserChannelKind {
  return (USER_CHANNEL_KINDS as readonly string[]).includes(kind);
}

export function isBackKind(kind: string): kind is BackKind {
  return (BACK_KINDS as readonly string[]).includes(kind);
}

export function isForwardKind(kind: string): kind is ForwardKind {
  return (FORWARD_KINDS as readonly string[]).includes(kind);
}

/** Prefix of every per-user name: `user:{id}:<kind>`. */
export const USER_PREFIX = 'user:';
/** Suffix of the gateway's per-user backlog stream. */
export const BACKLOG = 'backlog';

/** `user:jamie:raw` */
export function userChannel(user: string, kind: UserChannelKind): string {
  return `${USER_PREFIX}${checkUserId(user)}:${kind}`;
}

/** `user:*:raw` — the channels (or keys) of one kind for every user, for PSUBSCRIBE and ACLs. */
export function userPattern(kind: UserChannelKind | typeof BACKLOG): string {
  return `${USER_PREFIX}*:${kind}`;
}

/** `user:jamie:backlog` — the gateway's short stream of back-channel messages. */
export function userBacklogKey(user: string): string {
  return `${USER_PREFIX}${checkUserId(user)}:${BACKLOG}`;
}

/**
 * `user:jamie:backlog:seen` — beside the backlog: which back-channel messages the backlog holds
 * already, so that every gateway may append each message and it is there once (`backlog-append.lua`,
 * which touches both keys). On a Redis Cluster `{user:jamie:backlog}:seen`, in the slot of the backlog.
 */
export function userBacklogSeenKey(user: string, cluster = false): string {
  const backlog = userBacklogKey(user);
  return cluster ? `{${backlog}}:seen` : `${backlog}:seen`;
}

/** `user:*:backlog:seen` — every user's {@link userBacklogSeenKey}, for ACLs. */
export function userBacklogSeenPattern(): string {
  return `${userPattern(BACKLOG)}:seen`;
}

/** The inverse of {@link userChannel}; `undefined` for any other channel. */
export function parseUserChannel(channel: string): { user: string; kind: UserChannelKind } | undefined {
  const m = /^user:([^:]+):([a-z]+)$/.exec(channel);
  if (!m || !isUserId(m[1]!) || !isUserChannelKind(m[2]!)) return undefined;
  return { user: m[1]!, kind: m[2] };
}

/** The kind a message of this `type` belongs to (`prediction` → `predictions`). */
export function kindOfType(type: unknown): UserChannelKind | undefined {
  for (const k of USER_CHANNEL_KINDS) if (MESSAGE_TYPE[k] === type) return k;
  return undefined;
}

// ---- schemas ---------------------------------------------------------------

const Key = Type.String({ minLength: 1, maxLength: 128 });
/** Unix time (seconds or ms, as the sender's clock gives it), ISO-8601 text, or a MessagePack timestamp. */
const Timestamp = Type.Union([Type.Number(), Type.String({ maxLength: 64 }), Type.Date()]);
const OptTimestamp = Type.Optional(Type.Union([Timestamp, Type.Null()]));
const Source = Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()]));
const AnyMap = Type.Record(Key, Type.Unknown(), { maxProperties: 4096 });

export const RawMessageSchema = Type.Object({
  type: Type.Literal('raw'),
  timestamp: Timestamp,
  /** One value per channel, or a block of samples per channel. */
  channels: Type.Record(Key, Type.Union([Type.Number(), Type.Array(Type.Number(), { maxItems: 65536 })]), {
    maxProperties: 4096,
  }),
});

export const FeaturesMessageSchema = Type.Object({
  type: Type.Literal('features'),
  timestamp: Timestamp,
  features: AnyMap,
});

export const PredictionMessageSchema = Type.Object({
  type: Type.Literal('prediction'),
  prediction_type: Type.Optional(Type.String({ maxLength: 128 })),
  data: AnyMap,
  confidence: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
  source: Source,
  timestamp: OptTimestamp,
});

export const CommandMessageSchema = Type.Object({
  type: Type.Literal('command'),
  command: Type.String({ minLength: 1, maxLength: 128 }),
  args: Type.Optional(AnyMap),
  source: Source,
  timestamp: OptTimestamp,
});

export const AlertMessageSchema = Type.Object({
  type: Type.Literal('alert'),
  severity: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')]),
  message: Type.String({ maxLength: 4096 }),
  data: Type.Optional(AnyMap),
  source: Source,
  timestamp: OptTimestamp,
});

export type RawMessage = Static<typeof RawMessageSchema>;
export type FeaturesMessage = Static<typeof FeaturesMessageSchema>;
export type PredictionMessage = Static<typeof PredictionMessageSchema>;
export type CommandMessage = Static<typeof CommandMessageSchema>;
export type AlertMessage = Static<typeof AlertMessageSchema>;

export interface UserMessageByKind {
  raw: RawMessage;
  features: FeaturesMessage;
  predictions: PredictionMessage;
  commands: CommandMessage;
  alerts: AlertMessage;
}
export type UserMessage = UserMessageByKind[UserChannelKind];

export const USER_MESSAGE_SCHEMAS: Record<UserChannelKind, TSchema> = {
  raw: RawMessageSchema,
  features: FeaturesMessageSchema,
  predictions: PredictionMessageSchema,
  commands: CommandMessageSchema,
  alerts: AlertMessageSchema,
};

/** The outcome of checking one message (same shape as the bus validators). */
export type UserValidationResult<T> = { ok: true; value: T } | { ok: false; error: string };

type Checker = ReturnType<typeof TypeCompiler.Compile>;

/**
 * Compiled checks for the five message shapes. Extra top-level fields are
 * allowed (senders may add e.g. a sequence number); known fields must have
 * their types, numbers must be finite.
 */
export class UserMessageValidator {
  readonly #checks = new Map<UserChannelKind, Checker>();

  constructor() {
    for (const k of USER_CHANNEL_KINDS) this.#checks.set(k, TypeCompiler.Compile(USER_MESSAGE_SCHEMAS[k]));
  }

  validate<K extends UserChannelKind>(kind: K, value: unknown): UserValidationResult<UserMessageByKind[K]> {
    // The hot path (relays at 100 Hz): a hand-written check of the raw shape; anything it does
    // not accept goes through the schema, which also says what is wrong.
    if (kind === 'raw' && isPlainRaw(value)) return { ok: true, value: value as UserMessageByKind[K] };
    const check = this.#checks.get(kind)!;
    if (check.Check(value)) return { ok: true, value: value as UserMessageByKind[K] };
    const first = check.Errors(value).First();
    const where = first?.path || '(root)';
    return { ok: false, error: `${kind} message: ${where} ${first?.message ?? 'does not match the schema'}` };
  }

  /** The check of one kind as a bus {@link Validator} (for a Subscriber). */
  validator<K extends UserChannelKind>(kind: K): Validator<UserMessageByKind[K]> {
    return (value) => this.validate(kind, value);
  }

  /** Like {@link validate} but throws a {@link ValidationError}. */
  assert<K extends UserChannelKind>(kind: K, value: unknown): UserMessageByKind[K] {
    const r = this.validate(kind, value);
    if (!r.ok) throw new ValidationError(r.error);
    return r.value;
  }
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !ArrayBuffer.isView(v);
}

/** A subset of {@link RawMessageSchema} checked without the schema machinery (never accepts what it refuses). */
function isPlainRaw(v: unknown): boolean {
  if (!isMap(v) || v.type !== 'raw') return false;
  const ts = v.timestamp;
  if (!(Number.isFinite(ts) || v.timestamp instanceof Date || (typeof ts === 'string' && ts.length <= 64))) {
    return false;
  }
  const ch = v.channels;
  if (!isMap(ch)) return false;
  let n = 0;
  for (const k in ch) {
    if (++n > 4096 || k.length === 0 || k.length > 128) return false;
    const x = ch[k];
    if (typeof x === 'number') {
      if (!Number.isFinite(x)) return false;
    } else if (Array.isArray(x)) {
      if (x.length > 65536) return false;
      for (const y of x) if (typeof y !== 'number' || !Number.isFinite(y)) return false;
    } else return false;
  }
  return true;
}

// ---- encoding --------------------------------------------------------------

export type UserCodecName = 'msgpack' | 'json';

export function isUserCodecName(name: string): name is UserCodecName {
  return name === 'msgpack' || name === 'json';
}

/**
 * Encodes and decodes user-channel payloads with the bus codecs. MessagePack
 * uses plain maps, float64, integers and UTF-8 strings, and the timestamp
 * extension for `Date`, so Python's `msgpack.packb`/`unpackb` read and write
 * the same bytes. JavaScript numbers that are whole encode as MessagePack
 * integers. Decoding detects the format: a payload starting with `{` is JSON
 * (a MessagePack map never starts with that byte). Decoding enforces
 * {@link DecodeLimits} (depth 32, no length header beyond the bytes that
 * remain, size): a message over one throws a `DecodeLimitError`.
 */
export class UserCodec {
  readonly limits: DecodeLimits;
  readonly #json: Codec;
  readonly #msgpack: Codec;

  constructor(limits: Partial<DecodeLimits> = {}) {
    this.limits = resolveDecodeLimits(limits);
    this.#json = createJsonCodec(this.limits);
    this.#msgpack = createMsgpackCodec(this.limits);
  }

  encode(value: unknown, codec: UserCodecName = 'msgpack'): Buffer {
    if (codec === 'json') return Buffer.from(this.#json.encode(value) as string, 'utf8');
    return this.#msgpack.encode(value) as Buffer;
  }

  /** Which format a payload is in (see the class comment). */
  static detect(data: Uint8Array | string): UserCodecName {
    if (typeof data === 'string') return 'json';
    let i = 0;
    while (i < data.length && (data[i] === 0x20 || data[i] === 0x0a || data[i] === 0x0d || data[i] === 0x09)) i++;
    return data[i] === 0x7b ? 'json' : 'msgpack';
  }

  /** Throws a {@link DecodeError} for data neither codec can read. */
  decode(data: Uint8Array | string): { value: unknown; codec: UserCodecName } {
    const codec = UserCodec.detect(data);
    const bytes = typeof data === 'string' || Buffer.isBuffer(data) ? data : Buffer.from(data);
    return { value: (codec === 'json' ? this.#json : this.#msgpack).decode(bytes), codec };
  }
}

/**
 * A bus {@link Codec} for user channels (for a Subscriber or Publisher):
 * decodes MessagePack or JSON, encodes as `encodeAs`.
 */
export function userChannelCodec(encodeAs: UserCodecName = 'msgpack', limits: Partial<DecodeLimits> = {}): Codec {
  const uc = new UserCodec(limits);
  return {
    name: `user-${encodeAs}`,
    encode: (value) => uc.encode(value, encodeAs),
    decode: (data) => uc.decode(data).value,
  };
}
