import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CompiledMessage, DbcDecoder, parseDbc, type DbcSignal } from '../../src/can/dbc/index.js';
import { DbcError } from '../../src/can/errors.js';
import { makeFrame } from '../../src/can/frame.js';

const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const values = (m: CompiledMessage, data: string) => {
  const out: Record<string, number> = {};
  m.decodeValues(hex(data), out);
  return out;
};

// Source: cantools (github.com/cantools/cantools), tests/files/dbc/motohawk.dbc and the
// motohawk encode/decode vectors of tests/test_database.py; restated here, not copied.
const MOTOHAWK = `VERSION "1.0"

NS_ :
\tCM_
\tVAL_

BS_:

BU_: PCM1 FOO

BO_ 496 ExampleMessage: 8 PCM1
 SG_ Temperature : 0|12@0- (0.01,250) [229.52|270.47] "degK"  PCM1,FOO
 SG_ AverageRadius : 6|6@0+ (0.1,0) [0|5] "m" Vector__XXX
 SG_ Enable : 7|1@0+ (1,0) [0|0] "-" Vector__XXX

CM_ BO_ 496 "Example message used as template in MotoHawk models.";

VAL_ 496 Enable 0 "Disabled" 1 "Enabled" ;
`;

// Source: cantools tests/files/dbc/multiplex.dbc (trimmed to the statements that matter)
// and the Message1 vectors of test_multiplex in tests/test_database.py.
const MULTIPLEX = `VERSION ""

BU_:

BO_ 2148676694 Message1: 8 Vector__XXX
 SG_ BIT_F m24 : 39|1@1+ (1,0) [0|0] "" Vector__XXX
 SG_ BIT_H m24 : 38|1@1+ (1,0) [0|0] "" Vector__XXX
 SG_ BIT_B m24 : 33|1@1+ (1,0) [0|0] "" Vector__XXX
 SG_ BIT_D m24 : 32|1@1+ (1,0) [0|0] "" Vector__XXX
 SG_ BIT_E m24 : 29|1@1+ (1,0) [0|0] "" Vector__XXX
 SG_ BIT_K m24 : 28|1@1+ (1,0) [0|0] "" Vector__XXX
 SG_ BIT_A m24 : 26|1@1+ (1,0) [0|0] "" Vector__XXX
 SG_ BIT_L m8 : 24|1@1+ (1,0) [0|0] "" Vector__XXX
 SG_ BIT_G m8 : 23|1@1+ (1,0) [0|0] "" Vector__XXX
 SG_ BIT_C m8 : 19|1@1+ (1,0) [0|0] "" Vector__XXX
 SG_ BIT_J m8 : 18|1@1+ (1,0) [0|0] "" Vector__XXX
 SG_ Multiplexor M : 2|6@1+ (1,0) [0|0] "" Vector__XXX

CM_ SG_ 2148676694 Multiplexor "Defines data content for
response messages; spans lines.";
BA_DEF_ BO_  "VFrameFormat" ENUM  "StandardCAN","ExtendedCAN","reserved","J1939PG";
BA_DEF_DEF_  "VFrameFormat" "J1939PG";
BA_ "VFrameFormat" BO_ 2148676694 3;

SG_MUL_VAL_ 2148676694 BIT_J Multiplexor 8-8, 16-16, 24-24;
SG_MUL_VAL_ 2148676694 BIT_C Multiplexor 8-8, 16-16, 24-24;
SG_MUL_VAL_ 2148676694 BIT_G Multiplexor 8-8, 16-16, 24-24;
SG_MUL_VAL_ 2148676694 BIT_L Multiplexor 8-8, 16-16, 24-24;
SG_MUL_VAL_ 2148676694 BIT_A Multiplexor 24-24;
SG_MUL_VAL_ 2148676694 BIT_K Multiplexor 24-24;
SG_MUL_VAL_ 2148676694 BIT_E Multiplexor 24-24;
SG_MUL_VAL_ 2148676694 BIT_D Multiplexor 24-24;
SG_MUL_VAL_ 2148676694 BIT_B Multiplexor 24-24;
SG_MUL_VAL_ 2148676694 BIT_H Multiplexor 24-24;
SG_MUL_VAL_ 2148676694 BIT_F Multiplexor 24-24;
`;

// Our own: big-endian, signed, multiplexed, extended id (0x18FF5001), 64-bit and float signals.
const OWN = `VERSION "own"

BO_ 2566868993 Probe: 8 NODE
 SG_ Mode M : 7|4@0+ (1,0) [0|15] "" RX
 SG_ Temp m1 : 3|12@0- (0.1,-10) [-40|125] "degC" RX
 SG_ Pressure m2 : 3|20@0+ (0.01,0) [0|1100] "hPa" RX
 SG_ Big : 39|24@0- (1,0) [0|0] "" RX
 SG_ Counter : 63|8@0+ (1,0) [0|255] "" RX

BO_ 4 WideBE: 8 NODE
 SG_ L : 7|64@0+ (1,0) [0|0] "" RX

BO_ 5 WideLE: 8 NODE
 SG_ M : 0|64@1+ (1,0) [0|0] "" RX

BO_ 6 Floats: 12 NODE
 SG_ F32 : 0|32@1- (1,0) [0|0] "" RX
 SG_ F64 : 32|64@1- (2,1) [0|0] "" RX

SIG_VALTYPE_ 6 F32 : 1;
SIG_VALTYPE_ 6 F64 : 2;
VAL_ 2566868993 Mode 1 "temperature" 2 "pressure" ;
`;

describe('DBC parser', () => {
  it('parses the motohawk example', () => {
    const db = parseDbc(MOTOHAWK);
    expect(db.version).toBe('1.0');
    expect(db.nodes).toEqual(['PCM1', 'FOO']);
    const m = db.messages[0];
    expect(m).toMatchObject({ id: 496, extended: false, name: 'ExampleMessage', length: 8, sender: 'PCM1' });
    const t = m?.signals.find((s) => s.name === 'Temperature') as DbcSignal;
    expect(t).toMatchObject({ startBit: 0, length: 12, byteOrder: 'big', signed: true, factor: 0.01, offset: 250 });
    expect(t).toMatchObject({ min: 229.52, max: 270.47, unit: 'degK', receivers: ['PCM1', 'FOO'] });
    const en = m?.signals.find((s) => s.name === 'Enable') as DbcSignal;
    expect([...(en.valueTable ?? [])]).toEqual([
      [0, 'Disabled'],
      [1, 'Enabled'],
    ]);
  });

  it('keys extended ids without bit 31 and reads multiplexing', () => {
    const db = parseDbc(MULTIPLEX);
    const m = db.messages[0];
    expect(m?.id).toBe(0x00123456);
    expect(m?.extended).toBe(true);
    const j = m?.signals.find((s) => s.name === 'BIT_J');
    expect(j?.multiplexerSignal).toBe('Multiplexor');
    expect(j?.multiplexerRanges).toEqual([
      [8, 8],
      [16, 16],
      [24, 24],
    ]);
    expect(m?.signals.find((s) => s.name === 'Multiplexor')?.isMultiplexer).toBe(true);
  });

  it('skips the pseudo message of signals sent in no frame (VECTOR__INDEPENDENT_SIG_MSG)', () => {
    const text =
      'BO_ 3221225472 VECTOR__INDEPENDENT_SIG_MSG: 0 Vector__XXX\n SG_ Orphan : 0|8@1+ (1,0) [0|0] "" X\n\n' +
      'BO_ 16 Real: 1 X\n SG_ S : 0|8@1+ (1,0) [0|0] "" X\n';
    expect(parseDbc(text).messages.map((m) => m.name)).toEqual(['Real']);
  });

  it('reports malformed signals with the line number and a stable code', () => {
    const failure = (text: string): DbcError => {
      try {
        parseDbc(text);
      } catch (e) {
        if (e instanceof DbcError) return e;
        throw e;
      }
      throw new Error('parsed without an error');
    };
    expect(failure('BO_ 1 M: 8 X\n SG_ S : 0|x@1+ (1,0) [0|0] "" X\n')).toMatchObject({ code: 'DBC_SYNTAX', line: 2 });
    expect(failure('VERSION ""\n SG_ S : 0|8@1+ (1,0) [0|0] "" X\n')).toMatchObject({ code: 'DBC_SYNTAX', line: 2 });
    expect(failure('BO_ 1 M: 8 X\n SG_ S m1 : 0|8@1+ (1,0) [0|0] "" X\n')).toMatchObject({
      code: 'DBC_INVALID',
      line: 2,
    });
  });
});

describe('DBC decoder: cantools vectors', () => {
  const dec = new DbcDecoder(parseDbc(MOTOHAWK));
  const m = dec.get(496, false) as CompiledMessage;

  it('decodes motohawk ExampleMessage (big-endian, signed)', () => {
    expect(values(m, 'c006e00000000000')).toEqual({ Temperature: 250.55, AverageRadius: 3.2, Enable: 1 });
    // Temperature 229.53 is a negative raw value.
    expect(values(m, '0100200000000000')).toEqual({ Temperature: 229.53, AverageRadius: 0, Enable: 0 });
  });

  it('reports raw, unit, range status and label', () => {
    const d = m.decode(hex('c006e00000000000'));
    const en = d.signals.find((s) => s.name === 'Enable');
    expect(en).toMatchObject({ raw: 1, value: 1, label: 'Enabled', unit: '-', status: 'in' });
    const t = d.signals.find((s) => s.name === 'Temperature');
    expect(t).toMatchObject({ raw: 55, value: 250.55, unit: 'degK', status: 'in' });
    expect(d.truncated).toBe(false);
  });

  it('decodes the multiplex example only for the selected signals', () => {
    const mx = new DbcDecoder(parseDbc(MULTIPLEX));
    expect(mx.get(0x123456, false)).toBeUndefined();
    const msg = mx.get(0x123456, true) as CompiledMessage;
    const four = { BIT_C: 1, BIT_G: 1, BIT_J: 1, BIT_L: 1 };
    expect(values(msg, '20008c0100000000')).toEqual({ Multiplexor: 8, ...four });
    expect(values(msg, '40008c0100000000')).toEqual({ Multiplexor: 16, ...four });
    const all = { ...four, BIT_A: 1, BIT_B: 1, BIT_D: 1, BIT_E: 1, BIT_F: 1, BIT_H: 1, BIT_K: 1 };
    expect(values(msg, '60008c35c3000000')).toEqual({ Multiplexor: 24, ...all });
    // A selector no signal is defined for: only the selector.
    expect(values(msg, '10008c35c3000000')).toEqual({ Multiplexor: 4 });
    const frame = makeFrame(0x123456, hex('60008c35c3000000'), 0, { extended: true });
    expect(mx.decode(frame)?.signals).toHaveLength(12);
  });
});

describe('DBC decoder: our own big-endian / signed / multiplexed DBC', () => {
  const dec = new DbcDecoder(parseDbc(OWN));
  const probe = dec.get(0x18ff5001, true) as CompiledMessage;

  it('decodes mode 1: signed 12-bit big-endian temperature, 24-bit signed, counter', () => {
    expect(values(probe, '1F850000FFFFFE2A')).toEqual({ Mode: 1, Temp: -22.3, Big: -2, Counter: 42 });
  });

  it('decodes mode 2: 20-bit big-endian pressure; Temp absent', () => {
    expect(values(probe, '218BCD0000000507')).toEqual({ Mode: 2, Pressure: 1013.25, Big: 5, Counter: 7 });
  });

  it('decodes mode 3: neither multiplexed signal', () => {
    expect(values(probe, '3000000000000001')).toEqual({ Mode: 3, Big: 0, Counter: 1 });
  });

  it('reports out-of-range values without clamping', () => {
    // Temp raw -400 → -50 °C (below -40); raw 1500 → 140 °C (above 125).
    const below = probe.decode(hex('1E70000000000000')).signals.find((s) => s.name === 'Temp');
    expect(below).toMatchObject({ raw: -400, value: -50, status: 'below' });
    const above = probe.decode(hex('15DC000000000000')).signals.find((s) => s.name === 'Temp');
    expect(above).toMatchObject({ raw: 1500, value: 140, status: 'above' });
    const mode = probe.decode(hex('1E70000000000000')).signals.find((s) => s.name === 'Mode');
    expect(mode?.label).toBe('temperature');
  });

  it('extracts 64-bit signals with BigInt (big- and little-endian)', () => {
    // The 64-bit vectors (frame ids 4 and 5) of cantools' tests/test_database.py.
    const be = dec.get(4, false)?.decode(hex('0123456789abcdef')).signals[0];
    expect(be?.raw).toBe(0x0123456789abcdefn);
    const le = dec.get(5, false)?.decode(hex('efcdab8967452301')).signals[0];
    expect(le?.raw).toBe(0x0123456789abcdefn);
  });

  it('decodes IEEE float and double signals (SIG_VALTYPE_)', () => {
    const buf = new DataView(new ArrayBuffer(12));
    buf.setFloat32(0, 1.5, true);
    buf.setFloat64(4, -2.25, true);
    const out: Record<string, number> = {};
    dec.get(6, false)?.decodeValues(new Uint8Array(buf.buffer), out);
    expect(out).toEqual({ F32: 1.5, F64: -2.25 * 2 + 1 });
  });

  it('leaves out signals a short frame cannot hold and says so', () => {
    const out: Record<string, number> = {};
    expect(probe.decodeValues(hex('1F85'), out)).toBe(true);
    expect(out).toEqual({ Mode: 1, Temp: -22.3 });
  });

  it('returns null for an id the DBC does not know', () => {
    expect(dec.decode(makeFrame(0x7ff, [1, 2], 0))).toBeNull();
  });
});

/** Reference extraction: walks bit by bit exactly as the DBC format defines it. */
function reference(data: Uint8Array, start: number, length: number, big: boolean, signed: boolean): bigint {
  let v = 0n;
  if (big) {
    let pos = start;
    for (let i = 0; i < length; i++) {
      const bit = ((data[pos >> 3] as number) >> (pos & 7)) & 1;
      v = (v << 1n) | BigInt(bit);
      pos = pos % 8 === 0 ? pos + 15 : pos - 1;
    }
  } else {
    for (let i = length - 1; i >= 0; i--) {
      const pos = start + i;
      v = (v << 1n) | BigInt(((data[pos >> 3] as number) >> (pos & 7)) & 1);
    }
  }
  return signed ? BigInt.asIntN(length, v) : v;
}

describe('DBC decoder: property test against a bit-by-bit reference', () => {
  it('agrees for random layouts, both byte orders, signed and unsigned', () => {
    const layouts = fc
      .record({
        big: fc.boolean(),
        signed: fc.boolean(),
        length: fc.integer({ min: 1, max: 64 }),
        start: fc.integer({ min: 0, max: 63 }),
      })
      .filter(({ big, length, start }) => {
        if (!big) return start + length <= 64;
        const msb = (start >> 3) * 8 + (7 - (start & 7));
        return msb + length <= 64;
      });
    fc.assert(
      fc.property(layouts, fc.uint8Array({ minLength: 8, maxLength: 8 }), ({ big, signed, length, start }, data) => {
        const db = parseDbc(
          `BO_ 1 T: 8 X\n SG_ S : ${start}|${length}@${big ? 0 : 1}${signed ? '-' : '+'} (1,0) [0|0] "" X\n`,
        );
        const got = new DbcDecoder(db).get(1, false)?.decode(data).signals[0]?.raw;
        const want = reference(data, start, length, big, signed);
        expect(BigInt(got as number | bigint)).toBe(want);
      }),
      { numRuns: 500 },
    );
  });
});
