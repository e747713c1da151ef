import { DecodeError } from './errors.js';

/**
 * Limits on what a decoder of outside bytes accepts, checked BEFORE the
 * value is built: a small message cannot make the decoder allocate more
 * than its own size or recurse deeper than `maxDepth`.
 */
export interface DecodeLimits {
  /** @defaultValue 32 — nested maps/arrays (objects/arrays in JSON); the top-level container is depth 1. */
  maxDepth: number;
  /** @defaultValue 16 MiB — the largest message decoded at all. */
  maxBytes: number;
}

export const DECODE_LIMITS: DecodeLimits = { maxDepth: 32, maxBytes: 16 * 1024 * 1024 };

/** Which limit a message broke. */
export type DecodeLimitKind = 'depth' | 'bytes' | 'length';

/**
 * A message over a {@link DecodeLimits} limit (too deep, too big, or a
 * length header claiming more than the message holds). A {@link DecodeError}
 * (`code` `BUS_DECODE`); tell it apart with `instanceof DecodeLimitError`.
 */
export class DecodeLimitError extends DecodeError {
  readonly limit: DecodeLimitKind;
  constructor(limit: DecodeLimitKind, message: string) {
    super(message);
    this.name = 'DecodeLimitError';
    this.limit = limit;
  }
}

/** Validates limits given as options (positive integers). */
export function resolveDecodeLimits(limits: Partial<DecodeLimits> = {}): DecodeLimits {
  const o = { ...DECODE_LIMITS, ...limits };
  for (const k of ['maxDepth', 'maxBytes'] as const) {
    if (!Number.isInteger(o[k]) || o[k] <= 0) throw new RangeError(`decode limit ${k} must be a positive integer`);
  }
  return o;
}

function checkSize(n: number, limits: DecodeLimits): void {
  if (n > limits.maxBytes) throw new DecodeLimitError('bytes', `message of ${n} bytes exceeds ${limits.maxBytes}`);
}

/**
 * Walks the structure of one MessagePack value without building it (no
 * recursion, no allocation beyond a stack of `maxDepth` numbers) and throws
 * a {@link DecodeLimitError} when a container is nested deeper than
 * `maxDepth`, a container claims more elements than bytes remain, or a
 * string/binary/extension claims more bytes than remain. Anything else
 * (bad type bytes, trailing bytes) is left to the decoder.
 */
export function checkMsgpack(bytes: Uint8Array, limits: DecodeLimits = DECODE_LIMITS): void {
  const n = bytes.length;
  checkSize(n, limits);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // remaining[i]: items still to read in the container at depth i (0 = the top level, one value)
  const remaining: number[] = [1];
  let pos = 0;
  const need = (k: number, what: string) => {
    if (pos + k > n) {
      throw new DecodeLimitError('length', `${what} at byte ${pos} needs ${k} bytes, ${n - pos} remain`);
    }
  };
  const container = (items: number, what: string) => {
    const depth = remaining.length;
    if (depth > limits.maxDepth) {
      throw new DecodeLimitError('depth', `nesting deeper than ${limits.maxDepth} at byte ${pos}`);
    }
    // every element takes at least one byte
    if (items > n - pos) {
      throw new DecodeLimitError('length', `${what} claims ${items} elements, only ${n - pos} bytes remain`);
    }
    if (items > 0) remaining.push(items);
  };
  while (remaining.length > 0) {
    const top = remaining.length - 1;
    if (remaining[top] === 0) {
      remaining.pop();
      continue;
    }
    remaining[top]!--;
    if (pos >= n) throw new DecodeLimitError('length', `message ends inside a container at byte ${pos}`);
    const b = bytes[pos++]!;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) continue;
    if (b <= 0x8f) {
      container(2 * (b & 0x0f), 'map');
      continue;
    }
    if (b <= 0x9f) {
      container(b & 0x0f, 'array');
      continue;
    }
    if (b <= 0xbf) {
      need(b & 0x1f, 'string');
      pos += b & 0x1f;
      continue;
    }
    let len: number;
    switch (b) {
      case 0xc4: // bin 8
      case 0xd9: // str 8
        need(1, 'length');
        len = bytes[pos]!;
        pos += 1;
        break;
      case 0xc5:
      case 0xda:
        need(2, 'length');
        len = view.getUint16(pos);
        pos += 2;
        break;
      case 0xc6:
      case 0xdb:
        need(4, 'length');
        len = view.getUint32(pos);
        pos += 4;
        break;
      case 0xc7: // ext 8: length, type
        need(2, 'extension header');
        len = bytes[pos]!;
        pos += 2;
        break;
      case 0xc8:
        need(3, 'extension header');
        len = view.getUint16(pos);
        pos += 3;
        break;
      case 0xc9:
        need(5, 'extension header');
        len = view.getUint32(pos);
        pos += 5;
        break;
      case 0xca:
      case 0xce:
      case 0xd2:
        len = 4;
        break;
      case 0xcb:
      case 0xcf:
      case 0xd3:
        len = 8;
        break;
      case 0xcc:
      case 0xd0:
        len = 1;
        break;
      case 0xcd:
      case 0xd1:
        len = 2;
        break;
      case 0xd4: // fixext 1..16: type byte + data
        len = 2;
        break;
      case 0xd5:
        len = 3;
        break;
      case 0xd6:
        len = 5;
        break;
      case 0xd7:
        len = 9;
        break;
      case 0xd8:
        len = 17;
        break;
      case 0xdc:
        need(2, 'array header');
        len = view.getUint16(pos);
        pos += 2;
        container(len, 'array');
        continue;
      case 0xdd:
        need(4, 'array header');
        len = view.getUint32(pos);
        pos += 4;
        container(len, 'array');
        continue;
      case 0xde:
        need(2, 'map header');
        len = view.getUint16(pos);
        pos += 2;
        container(2 * len, 'map');
        continue;
      case 0xdf:
        need(4, 'map header');
        len = view.getUint32(pos);
        pos += 4;
        container(2 * len, 'map');
        continue;
      default:
        return; // 0xc1: never used; the decoder says so
    }
    need(len, 'value');
    pos += len;
  }
}

/**
 * Checks the nesting depth of JSON text without parsing it (one pass, no
 * recursion; brackets inside strings do not count). Malformed JSON is left
 * to `JSON.parse`.
 */
export function checkJsonDepth(text: string, limits: DecodeLimits = DECODE_LIMITS): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limits.maxDepth) {
        throw new DecodeLimitError('depth', `JSON nested deeper than ${limits.maxDepth} at character ${i}`);
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** UTF-8 bytes → text, refusing invalid sequences (a {@link DecodeError}) instead of replacing them. */
export function strictUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new DecodeError(`not valid UTF-8 (${bytes.length} bytes)`, { cause });
  }
}

/** Size check for text or bytes against `maxBytes`. */
export function checkBytes(data: Uint8Array | string, limits: DecodeLimits = DECODE_LIMITS): void {
  // a JS string of n UTF-16 units is at most 3n UTF-8 bytes and at least n
  const n = typeof data === 'string' ? (data.length * 3 <= limits.maxBytes ? 0 : Buffer.byteLength(data)) : data.length;
  checkSize(n, limits);
}
