import { Decoder, Encoder } from '@msgpack/msgpack';
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

/** UTF-8 JSON text, as `redis-cli`, redis-py and Grafana read it. */
export const jsonCodec: Codec = {
  name: 'json',
  encode(value: unknown): string {
    const text = JSON.stringify(value);
    if (text === undefined) throw new DecodeError(`json: cannot encode a ${typeof value}`);
    return text;
  },
  decode(data: Buffer | string): unknown {
    const text = typeof data === 'string' ? data : data.toString('utf8');
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new DecodeError(`json: not valid JSON (${(cause as Error).message}): ${preview(text)}`, { cause });
    }
  },
};

/**
 * MessagePack with plain maps, arrays, float64, integers and UTF-8 strings,
 * so Python's `msgpack.packb(obj)` / `msgpack.unpackb(data)` read and write
 * the same bytes. `undefined` object members are left out (as JSON does).
 */
export function createMsgpackCodec(): Codec {
  const encoder = new Encoder({ ignoreUndefined: true });
  const decoder = new Decoder();
  return {
    name: 'msgpack',
    encode(value: unknown): Buffer {
      const bytes = encoder.encode(value);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    decode(data: Buffer | string): unknown {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
      try {
        return decoder.decode(bytes);
      } catch (cause) {
        throw new DecodeError(`msgpack: cannot decode ${bytes.length} bytes (${(cause as Error).message})`, {
          cause,
        });
      }
    },
  };
}

/** A shared MessagePack codec (stateless between calls). */
export const msgpackCodec: Codec = createMsgpackCodec();

/** The built-in codecs by name. */
export function codecByName(name: string): Codec {
  if (name === 'json') return jsonCodec;
  if (name === 'msgpack') return msgpackCodec;
  throw new ConfigError(`unknown codec "${name}" (known: json, msgpack)`);
}

function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
