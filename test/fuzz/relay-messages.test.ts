import { decode as referenceDecode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createJsonCodec, createMsgpackCodec } from '../../src/bus/codec.js';
import { DecodeLimitError } from '../../src/bus/decode-limits.js';
import { DecodeError } from '../../src/bus/errors.js';
import { UserCodec, UserMessageValidator } from '../../src/contracts/user-channels.js';

/**
 * Fuzzing the decoders of relay messages (what `canopy gateway` reads from
 * the network): whatever the bytes, the outcome is a value or a
 * DecodeError (DecodeLimitError for a limit) — never another exception —
 * and a small message never makes the decoder allocate much.
 */

const codec = new UserCodec({ maxDepth: 32, maxBytes: 128 * 1024 });
const validator = new UserMessageValidator();

/** Decode + validate as the gateway does; returns what happened, throws only for an escaping exception. */
function gatewayPath(bytes: Uint8Array | string): 'ok' | 'invalid' | 'limit' | 'malformed' {
  try {
    const { value } = codec.decode(bytes);
    const type = (value as { type?: unknown } | null)?.type;
    if (type !== 'raw' && type !== 'features') return 'invalid';
    return validator.validate(type, value).ok ? 'ok' : 'invalid';
  } catch (err) {
    if (err instanceof DecodeLimitError) return 'limit';
    if (err instanceof DecodeError) return 'malformed';
    throw err;
  }
}

const heap = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** MessagePack container and length headers (the parts of a bomb). */
const bombPiece = fc.oneof(
  fc.constantFrom(0x91, 0x81, 0x9f, 0x8f, 0xc0, 0xa1, 0x61).map((b) => [b]),
  fc
    .tuple(fc.constantFrom(0xdc, 0xde, 0xda, 0xc5, 0xc8), fc.integer({ min: 0, max: 0xffff }))
    .map(([b, n]) => [b, n >> 8, n & 0xff]),
  fc
    .tuple(fc.constantFrom(0xdd, 0xdf, 0xdb, 0xc6, 0xc9), fc.integer({ min: 0, max: 0xffffffff }))
    .map(([b, n]) => [b, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]),
);

describe('fuzz: relay message decoders (MessagePack and JSON)', () => {
  it('arbitrary bytes: a value or a DecodeError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) => {
        gatewayPath(Buffer.from(b));
      }),
      { numRuns: 3000 },
    );
  });

  it('bombs built from container and length headers: refused with a limit or malformed, bounded memory', () => {
    fc.assert(
      fc.property(fc.array(bombPiece, { minLength: 1, maxLength: 3000 }), (pieces) => {
        const bytes = Buffer.from(pieces.flat());
        const before = heap();
        const r = gatewayPath(bytes);
        // whatever it decoded holds at most one element per byte: far below this bound
        expect(heap() - before).toBeLessThan(64 * 1024 * 1024);
        expect(['ok', 'invalid', 'limit', 'malformed']).toContain(r);
      }),
      { numRuns: 400 },
    );
  });

  it('a whole 64 KiB message of nested headers is refused for depth at once', () => {
    for (const b of [0x91, 0x81, 0xdc, 0xdd, 0xde, 0xdf]) {
      const bytes = Buffer.alloc(65536, b);
      expect(gatewayPath(bytes)).toBe('limit');
    }
  });

  it('the limits never refuse a valid message within them: same value as the reference decoder', () => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.string(), fc.boolean(), fc.constant(null)),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    const mp = createMsgpackCodec({ maxDepth: 32 });
    const js = createJsonCodec({ maxDepth: 32 });
    fc.assert(
      fc.property(value, (v) => {
        const bytes = Buffer.from(encode(v));
        expect(mp.decode(bytes)).toEqual(referenceDecode(bytes));
        const text = JSON.stringify(v);
        expect(js.decode(Buffer.from(text))).toEqual(JSON.parse(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('nesting: exactly 32 levels decode, 33 are refused (MessagePack and JSON)', () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    const mp = createMsgpackCodec({ maxDepth: 32 });
    const js = createJsonCodec({ maxDepth: 32 });
    expect(mp.decode(Buffer.from(encode(nest(32))))).toEqual(nest(32));
    expect(() => mp.decode(Buffer.from(encode(nest(33))))).toThrow(DecodeLimitError);
    expect(js.decode(JSON.stringify(nest(32)))).toEqual(nest(32));
    expect(() => js.decode(JSON.stringify(nest(33)))).toThrow(DecodeLimitError);
    // brackets inside strings do not count
    expect(js.decode(JSON.stringify({ s: '['.repeat(1000) }))).toEqual({ s: '['.repeat(1000) });
  });

  it('JSON text: fast-check JSON and arbitrary strings give a value or a DecodeError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json({ depthSize: 'small' }), fc.string({ unit: 'binary', maxLength: 300 })), (t) => {
        gatewayPath(t.startsWith('{') ? t : `{${t}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid relay messages (bytes flipped, cut, extended): a value or a DecodeError', () => {
    const msg = fc.record({
      type: fc.constantFrom('raw', 'features'),
      timestamp: fc.double({ min: 0, max: 2e9, noNaN: true }),
      channels: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.double({ noNaN: true }), { maxKeys: 8 }),
      features: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
    });
    fc.assert(
      fc.property(
        msg,
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
        (m, json, flips, cut) => {
          const bytes = Buffer.from(json ? Buffer.from(JSON.stringify(m)) : encode(m));
          for (const [at, v] of flips) bytes[at % bytes.length] = v;
          gatewayPath(bytes.subarray(0, Math.max(1, bytes.length - (cut % 4))));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
