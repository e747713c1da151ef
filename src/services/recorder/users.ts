import { ExtData } from '@msgpack/msgpack';
import { ConfigError, PermissionError } from '../../bus/errors.js';
import type { Codec } from '../../bus/codec.js';
import type { Subscriber, Subscription } from '../../bus/subscriber.js';
import {
  USER_CHANNEL_KINDS,
  UserCodec,
  UserMessageValidator,
  isUserChannelKind,
  isUserId,
  parseUserChannel,
  userChannel,
  userPattern,
  type UserChannelKind,
} from '../../contracts/user-channels.js';
import type { Logger } from '../../util/log.js';
import type { RotatingLog } from './rotating-log.js';
import { onCluster } from '../../bus/cluster/names.js';
import { isShardedUserChannel } from '../../contracts/cluster.js';

/** Every user (`CANOPY_RECORD_USERS=*`). */
export const ALL_USERS = '*';

/**
 * `alice,bob` or `*` (from `CANOPY_RECORD_USERS` / `--users`) → the user list;
 * empty or unset → `[]` (recording of user channels off). Throws a
 * {@link ConfigError} naming the first bad entry.
 */
export function parseRecordUsers(text: string | undefined): string[] {
  return checkRecordUsers(splitList(text));
}

/** Checks a user list (ids or `*`); `*` anywhere means every user. */
export function checkRecordUsers(list: readonly string[]): string[] {
  for (const u of list) {
    if (u !== ALL_USERS && !isUserId(u)) {
      throw new ConfigError(
        `recorder users: ${JSON.stringify(u)} is not a user id (1–64 characters from A–Z a–z 0–9 _ . -) nor "*"`,
      );
    }
  }
  return list.includes(ALL_USERS) ? [ALL_USERS] : [...new Set(list)];
}

/** `raw,predictions` (from `CANOPY_RECORD_USER_KINDS` / `--user-kinds`); empty or unset → all five kinds. */
export function parseUserKinds(text: string | undefined): UserChannelKind[] {
  const list = splitList(text);
  return list.length === 0 ? [...USER_CHANNEL_KINDS] : checkUserKinds(list);
}

/** Checks a list of user channel kinds (an empty list records nothing). */
export function checkUserKinds(list: readonly string[]): UserChannelKind[] {
  for (const k of list) {
    if (!isUserChannelKind(k)) {
      throw new ConfigError(`recorder user kinds: unknown kind ${JSON.stringify(k)} (known: ${USER_CHANNEL_KINDS})`);
    }
  }
  return [...new Set(list)] as UserChannelKind[];
}

function splitList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Passes the payload bytes through: the recorder decodes them itself, so nothing it receives is refused unseen. */
const bytesCodec: Codec = {
  name: 'bytes',
  encode: (v) => v as Buffer,
  decode: (d) => (typeof d === 'string' ? Buffer.from(d, 'utf8') : d),
};

/**
 * A decoded MessagePack value made fit for a JSON line without losing
 * anything JSON can hold: binaries become `{"$base64": …}`, other
 * extensions `{"$ext": type, "$base64": …}`, dates ISO-8601 text,
 * non-finite floats (MessagePack can carry them) the text `NaN`/`Infinity`,
 * big integers decimal text.
 */
export function jsonSafe(v: unknown): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  if (v instanceof Uint8Array) return { $base64: b64(v) };
  if (v instanceof ExtData) return { $ext: v.type, ...(v.data instanceof Uint8Array ? { $base64: b64(v.data) } : {}) };
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = jsonSafe(x);
    return out;
  }
  return String(v);
}

function b64(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

export interface UserRecordingStats {
  /** Messages written to `users-*.jsonl` (valid or not). */
  userRecorded: number;
  /** Recorded with `invalid` set: decodable, but not the user-channel shape of their kind (docs/contracts.md). */
  userInvalid: number;
  /** Recorded with `undecodable` set and the bytes in base64: neither MessagePack nor JSON. */
  userUndecodable: number;
  /** Matched `user:*:<kind>` but not a valid user channel name (`user:a:b:raw`): not recorded. */
  userIgnored: number;
}

export interface UserRecorderDeps {
  subscriber: Subscriber;
  log: Logger;
  out: RotatingLog;
  users: string[];
  kinds: UserChannelKind[];
  maxMessageBytes: number;
  /** True while the service is paused (messages are dropped). */
  paused: () => boolean;
}

/**
 * Subscribes to the chosen users' channels (exact channels for named users,
 * `user:*:<kind>` patterns for `*`) and writes each message as a JSON line
 * `{ts, channel, user, kind, codec, message}` (decoded from MessagePack or
 * JSON). Nothing received is dropped for its content: a message of the wrong
 * shape is recorded with `invalid: "<why>"`, bytes that decode as neither
 * with `undecodable: "<why>"` and `base64` (cut at `maxMessageBytes`,
 * flagged `truncated`).
 */
export async function recordUsers(d: UserRecorderDeps, stats: UserRecordingStats): Promise<Subscription | undefined> {
  if (d.users.length === 0 || d.kinds.length === 0) return undefined;
  const codec = new UserCodec();
  const validator = new UserMessageValidator();
  const onMessage = (payload: Buffer, channel: string) => {
    if (d.paused()) return;
    const parsed = parseUserChannel(channel);
    if (!parsed) {
      stats.userIgnored++;
      return;
    }
    const base = { ts: new Date().toISOString(), channel, user: parsed.user, kind: parsed.kind };
    let decoded: { value: unknown; codec: string };
    try {
      decoded = codec.decode(payload);
    } catch (err) {
      const cut = payload.length > d.maxMessageBytes;
      const bytes = cut ? payload.subarray(0, d.maxMessageBytes) : payload;
      d.out.write({
        ...base,
        undecodable: (err as Error).message,
        bytes: payload.length,
        ...(cut ? { truncated: true } : {}),
        base64: bytes.toString('base64'),
      });
      stats.userUndecodable++;
      stats.userRecorded++;
      return;
    }
    const check = validator.validate(parsed.kind, decoded.value);
    if (!check.ok) stats.userInvalid++;
    d.out.write({
      ...base,
      codec: decoded.codec,
      ...(check.ok ? {} : { invalid: check.error }),
      message: jsonSafe(decoded.value),
    });
    stats.userRecorded++;
  };
  const all = d.users.includes(ALL_USERS);
  const names = all
    ? d.kinds.map((k) => userPattern(k))
    : d.users.flatMap((u) => d.kinds.map((k) => userChannel(u, k)));
  try {
    const sub = all
      ? await d.subscriber.psubscribe<Buffer>(names, onMessage, { codec: bytesCodec })
      : await subscribeExact(d.subscriber, names, onMessage);
    d.log.info({ users: d.users, kinds: d.kinds }, 'recording user channels');
    return sub;
  } catch (err) {
    if (err instanceof PermissionError) {
      throw new ConfigError(
        `the recorder's Redis user may not subscribe to ${names.join(', ')}: grant it those channels ` +
          `(SUBSCRIBE/PSUBSCRIBE) or turn user recording off (CANOPY_RECORD_USERS unset)`,
        { cause: err },
      );
    }
    throw err;
  }
}

/**
 * SUBSCRIBE to exact user channels; on a Redis Cluster the relay data
 * channels are sharded (docs/contracts.md), so those are SSUBSCRIBEd.
 */
async function subscribeExact(
  sub: Subscriber,
  names: string[],
  onMessage: (payload: Buffer, channel: string) => void,
): Promise<Subscription> {
  const cluster = onCluster(sub.connection.options);
  const sharded = cluster ? names.filter(isShardedUserChannel) : [];
  const classic = names.filter((n) => !sharded.includes(n));
  const subs: Subscription[] = [];
  if (classic.length > 0) subs.push(await sub.subscribe<Buffer>(classic, onMessage, { codec: bytesCodec }));
  if (sharded.length > 0)
    subs.push(await sub.subscribe<Buffer>(sharded, onMessage, { codec: bytesCodec, sharded: true }));
  return { unsubscribe: async () => void (await Promise.all(subs.map((s) => s.unsubscribe()))) };
}
