import { Decoder, Encoder } from '@msgpack/msgpack';
import {
  checkBytes,
  checkJsonDepth,
  checkMsgpack,
  DecodeLimitError,
  resolveDecodeLimits,
  strictUtf8,
  type DecodeLimits,
} from './decode-limits.js';
import { ConfigError, DecodeError } from './errors.js';

/**
 * Turns values into bytes on the wire and back. `decode` throws a
 * {@link DecodeError} for data it cannot read; it never returns garbage.
 */
export interface Codec {
  /** Short, stable name (`json`, `msgpack`), used in logs and options. */
  readonly name: string;
  encode(value: unknown): Buffer | string;
  decode(data: Buffer | string): unknown;
}

/**
 * UTF-8 JSON text, as `redis-cli`, redis-py and Grafana read it. Decoding
 * refuses invalid UTF-8, text over `maxBytes` and nesting deeper than
 * `maxDepth` (checked in one pass before `JSON.parse`) with a
 * {@link DecodeLimitError}.
 */
export function createJsonCodec(limits: Partial<DecodeLimits> = {}): Codec {
  const l = resolveDecodeLimits(limits);
  return {
    name: 'json',
    encode(value: unknown): string {
      let text: string | undefined;
      try {
        text = JSON.stringify(value);
      } catch (cause) {
        throw new DecodeError(`json: cannot encode (${(cause as Error).message})`, { cause });
      }
      if (text === undefined) throw new DecodeError(`json: cannot encode a ${typeof value}`);
      return text;
    },
    decode(data: Buffer | string): unknown {
      checkBytes(data, l);
      const text = typeof data === 'string' ? data : strictUtf8(data);
      checkJsonDepth(text, l);
      try {
        return JSON.parse(text);
      } catch (cause) {
        throw new DecodeError(`json: not valid JSON (${(cause as Error).message}): ${preview(text)}`, { cause });
      }
    },
  };
}

/** JSON with the default {@link DecodeLimits}. */
export const jsonCodec: Codec = createJsonCodec();

/**
 * MessagePack with plain maps, arrays, float64, integers and UTF-8 strings,
 * so Python's `msgpack.packb(obj)` / `msgpack.unpackb(data)` read and write
 * the same bytes. `undefined` object members are left out (as JSON does).
 * Decoding first walks the structure ({@link checkMsgpack}: depth, and no
 * length header claiming more than the bytes that remain), and the decoder
 * itself refuses strings, binaries, arrays, maps and extensions longer than
 * `maxBytes`; over a limit it throws a {@link DecodeLimitError}.
 */
export function createMsgpackCodec(limits: Partial<DecodeLimits> = {}): Codec {
  const l = resolveDecodeLimits(limits);
  const encoder = new Encoder({ ignoreUndefined: true });
  const decoder = new Decoder({
    maxStrLength: l.maxBytes,
    maxBinLength: l.maxBytes,
    maxArrayLength: l.maxBytes,
    maxMapLength: l.maxBytes,
    maxExtLength: l.maxBytes,
  });
  return {
    name: 'msgpack',
    encode(value: unknown): Buffer {
      let bytes: Uint8Array;
      try {
        bytes = encoder.encode(value);
      } catch (cause) {
        throw new DecodeError(`msgpack: cannot encode (${(cause as Error).message})`, { cause });
      }
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    decode(data: Buffer | string): unknown {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
      try {
        checkMsgpack(bytes, l);
        return decoder.decode(bytes);
      } catch (cause) {
        if (cause instanceof DecodeLimitError) throw cause;
        throw new DecodeError(`msgpack: cannot decode ${bytes.length} bytes (${(cause as Error).message})`, {
          cause,
        });
      }
    },
  };
}

/** A shared MessagePack codec with the default {@link DecodeLimits} (stateless between calls). */
export const msgpackCodec: Codec = createMsgpackCodec();

/** The built-in codecs by name. */
export function codecByName(name: string): Codec {
  if (name === 'json') return jsonCodec;
  if (name === 'msgpack') return msgpackCodec;
  throw new ConfigError(`unknown codec "${name}" (known: json, msgpack)`);
}

export { DECODE_LIMITS, DecodeLimitError, type DecodeLimits } from './decode-limits.js';

function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
