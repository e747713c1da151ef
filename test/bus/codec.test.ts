import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { codecByName, jsonCodec, msgpackCodec } from '../../src/bus/codec.js';
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
