import { spawnSync } from '../support/run-sync.js';
import { describe, expect, it } from 'vitest';
import { codecByName, createJsonCodec, createMsgpackCodec, jsonCodec, msgpackCodec } from '../../src/bus/codec.js';
import { DecodeLimitError } from '../../src/bus/decode-limits.js';
import { ConfigError, DecodeError } from '../../src/bus/errors.js';

const PY = '/usr/bin/python3';
const sample = {
  type: 'raw',
  timestamp: 1705314600000,
  channels: { Ch0: 1.5, Ch1: -2, Ch2: 0.1 },
  list: [1, 'two', 3.25, null, true],
  name: 'Flower Room',
};

function python(script: string, input: Buffer): Buffer {
  const r = spawnSync(PY, ['-c', script], { input });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr.toString()}`);
  return r.stdout;
}

describe('jsonCodec', () => {
  it('round-trips plain values and decodes buffers as UTF-8', () => {
    const enc = jsonCodec.encode(sample);
    expect(typeof enc).toBe('string');
    expect(jsonCodec.decode(Buffer.from(enc as string))).toEqual(sample);
  });

  it('throws DecodeError (code BUS_DECODE) on text that is not JSON', () => {
    expect(() => jsonCodec.decode('not json{')).toThrow(DecodeError);
    try {
      jsonCodec.decode(Buffer.from([0xff, 0x00]));
    } catch (e) {
      expect((e as DecodeError).code).toBe('BUS_DECODE');
    }
  });
});

describe('msgpackCodec', () => {
  it('round-trips maps, arrays, floats, ints and strings', () => {
    expect(msgpackCodec.decode(msgpackCodec.encode(sample))).toEqual(sample);
  });

  it('throws DecodeError on truncated data', () => {
    const enc = msgpackCodec.encode(sample) as Buffer;
    expect(() => msgpackCodec.decode(enc.subarray(0, 5))).toThrow(DecodeError);
  });

  it('decodes what Python msgpack packs', () => {
    const out = python(
      'import sys,msgpack; sys.stdout.buffer.write(msgpack.packb({"type":"raw","timestamp":1705314600000,' +
        '"channels":{"Ch0":1.5,"Ch1":-2,"Ch2":0.1},"list":[1,"two",3.25,None,True],"name":"Flower Room"}))',
      Buffer.alloc(0),
    );
    expect(msgpackCodec.decode(out)).toEqual(sample);
  });

  it('packs what Python msgpack unpacks to the same value', () => {
    const out = python(
      'import sys,json,msgpack; v=msgpack.unpackb(sys.stdin.buffer.read()); ' +
        'assert isinstance(v["channels"]["Ch0"], float) and isinstance(v["timestamp"], int); print(json.dumps(v))',
      msgpackCodec.encode(sample) as Buffer,
    );
    expect(JSON.parse(out.toString())).toEqual(sample);
  });
});

describe('codecByName', () => {
  it('finds the built-in codecs and refuses unknown names', () => {
    expect(codecByName('json')).toBe(jsonCodec);
    expect(codecByName('msgpack')).toBe(msgpackCodec);
    expect(() => codecByName('xml')).toThrow(ConfigError);
  });
});

describe('decode limits (outside input)', () => {
  const limitOf = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError);
      return e instanceof DecodeLimitError ? e.limit : 'decode';
    }
    return undefined;
  };

  it('msgpack: deeper than 32, or a length header beyond the bytes that remain, is a DecodeLimitError', () => {
    expect(limitOf(() => msgpackCodec.decode(Buffer.alloc(40, 0x91)))).toBe('depth');
    expect(limitOf(() => msgpackCodec.decode(Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x41])))).toBe('length');
    expect(limitOf(() => msgpackCodec.decode(Buffer.from([0xdd, 0x00, 0x01, 0x00, 0x00, 0xc0])))).toBe('length');
    expect(limitOf(() => msgpackCodec.decode(Buffer.from([0xde, 0x00, 0x02, 0xa1, 0x61, 0xc0])))).toBe('length');
    expect(limitOf(() => msgpackCodec.decode(Buffer.from([0xc1])))).toBe('decode');
    expect(limitOf(() => createMsgpackCodec({ maxBytes: 8 }).decode(Buffer.alloc(9, 0xc0)))).toBe('bytes');
    expect(msgpackCodec.decode(Buffer.from([0x92, 0xa1, 0x61, 0xc0]))).toEqual(['a', null]);
  });

  it('JSON: deeper than 32 is refused before parsing; invalid UTF-8 is refused, not replaced', () => {
    expect(limitOf(() => jsonCodec.decode(`${'['.repeat(33)}${']'.repeat(33)}`))).toBe('depth');
    expect(limitOf(() => jsonCodec.decode(`{"a":"\\"[[[[", "b": ${'{"c":'.repeat(40)}1${'}'.repeat(40)}}`))).toBe(
      'depth',
    );
    expect(jsonCodec.decode(`{"s":"${'['.repeat(40)}"}`)).toEqual({ s: '['.repeat(40) });
    expect(limitOf(() => jsonCodec.decode(Buffer.from([0x22, 0xc3, 0x28, 0x22])))).toBe('decode');
    expect(limitOf(() => createJsonCodec({ maxBytes: 4 }).decode('"abcd"'))).toBe('bytes');
  });

  it('encoding what cannot be encoded is a DecodeError, not a stray exception', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => jsonCodec.encode(cyclic)).toThrow(DecodeError);
    expect(() => msgpackCodec.encode(cyclic)).toThrow(DecodeError);
  });
});
