import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DbcDecoder,
  decodeDbcBytes,
  loadDbcFile,
  parseDbc,
  type CompiledMessage,
  type DbcDatabase,
} from '../../src/can/dbc/index.js';
import { DbcError, type DbcErrorCode } from '../../src/can/errors.js';

/**
 * DBC files as they are found in the wild: what cantools and canmatrix read,
 * Canopy reads too; what cannot be read is refused with a typed error that
 * names the line. The fixtures are our own files, written in the shapes
 * CANdb++ exports and hand edits take.
 */

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

function values(db: DbcDatabase, id: number, extended: boolean, data: string): Record<string, number> {
  const m = new DbcDecoder(db).get(id, extended) as CompiledMessage;
  expect(m).toBeDefined();
  const out: Record<string, number> = {};
  m.decodeValues(hex(data), out);
  return out;
}

function failure(text: string): DbcError {
  try {
    parseDbc(text);
  } catch (e) {
    if (e instanceof DbcError) return e;
    throw e;
  }
  throw new Error('parsed without an error');
}

describe('a CANdb++-style export (CRLF, Windows-1252 comments, every section)', () => {
  const db = loadDbcFile(path.join(FIXTURES, 'wild-candb.dbc'));

  it('reads it without a warning, skipping the sections Canopy does not use', () => {
    expect(db.warnings).toEqual([]);
    expect(db.nodes).toEqual(['Climate', 'Gateway', 'Dosing']);
    expect(db.messages.map((m) => [m.name, m.id, m.extended, m.fd, m.length])).toEqual([
      ['ClimateProbe', 0x18fec802, true, false, 8],
      ['DosingStatus', 0x401, false, true, 12],
      ['FanCommand', 0x201, false, false, 2],
    ]);
  });

  it('reads Windows-1252 units and receivers lists with commas', () => {
    const dry = db.messages[0]?.signals[0];
    expect(dry).toMatchObject({ name: 'DryBulb', unit: '°C', receivers: ['Gateway', 'Dosing'] });
  });

  it('decodes the values canmatrix decodes from the same frames', () => {
    // Cross-checked with test/can/differential/canmatrix_decode.py on this file.
    expect(values(db, 0x18fec802, true, 'c409dc05017c0225')).toEqual({
      DryBulb: 25,
      WetBulb: 15,
      Co2: 380,
      Fault: 2,
      Counter: 2,
    });
    expect(values(db, 0x401, false, '01d21b000000c03fe8030000')).toEqual({
      Mode: 1,
      Ph: 7.122,
      FlowRate: 1.5,
      TankLevel: 100,
    });
    expect(values(db, 0x401, false, '0241060000000000e8030000')).toEqual({
      Mode: 2,
      Ec: 16.01,
      FlowRate: 0,
      TankLevel: 100,
    });
    expect(values(db, 0x201, false, '7d24')).toEqual({ FanSpeed: 50, FanOn: 1 });
  });

  it('keeps value tables and reports float raws as IEEE values', () => {
    const d = new DbcDecoder(db).get(0x401, false)?.decode(hex('01d21b000000c03fe8030000'));
    expect(d?.signals.find((s) => s.name === 'Mode')).toMatchObject({ raw: 1, label: 'pH' });
    expect(d?.signals.find((s) => s.name === 'FlowRate')).toMatchObject({ raw: 1.5, value: 1.5 });
  });
});

describe('a hand-edited file (BOM, unindented NS_, comments and spacing anywhere)', () => {
  const db = loadDbcFile(path.join(FIXTURES, 'wild-hand-edited.dbc'));

  it('reads every message and signal and says what it skipped', () => {
    expect(db.version).toBe('hand edited');
    expect(db.nodes).toEqual(['Valve1', 'Valve2', 'Controller']);
    expect(db.messages.map((m) => [m.name, m.id, m.extended, m.fd, m.sender])).toEqual([
      ['ValveState', 0x100, false, false, 'Valve1'],
      ['ValveConfig', 0x200, true, true, 'Controller'],
    ]);
    expect(db.messages[0]?.signals.map((s) => s.name)).toEqual(['Open', 'Flow', 'Pressure', 'Temperature', 'Serial']);
    expect(db.warnings).toEqual([
      { line: 28, message: 'unknown statement XX_UNKNOWN_TOOL_DATA_ skipped' },
      { line: 36, message: "SIG_VALTYPE_ statement without a final ';'" },
    ]);
  });

  it('reads signals with odd spacing, no unit, no receivers and .1 factors', () => {
    const [, flow, pressure, temp] = db.messages[0]?.signals ?? [];
    expect(flow).toMatchObject({
      startBit: 8,
      length: 16,
      factor: 0.01,
      unit: 'l/min',
      receivers: ['Controller', 'Valve2'],
    });
    expect(pressure).toMatchObject({ startBit: 24, length: 12, signed: true, factor: 0.5, offset: -100, min: -1124 });
    expect(temp).toMatchObject({ factor: 0.1, unit: '°C', receivers: [] });
  });

  it('reads two statements on one line and a string with ; and // inside', () => {
    const [open, , , , serial] = db.messages[0]?.signals ?? [];
    expect([...(open?.valueTable ?? [])]).toEqual([
      [0, 'closed'],
      [1, 'open'],
    ]);
    expect([...(serial?.valueTable ?? [])]).toEqual([[65535, 'unset']]);
  });

  it('decodes 64-byte CAN FD frames with 64-bit, float and double signals', () => {
    const data = new Uint8Array(64);
    const view = new DataView(data.buffer);
    view.setBigInt64(0, -123456789n, true);
    view.setFloat32(8, -0.25, true);
    view.setFloat64(12, 6.5e10, false);
    data[63] = 0xab;
    expect(values(db, 0x200, true, Buffer.from(data).toString('hex'))).toEqual({
      Setpoint: -123456.789,
      Gain: -0.25,
      Limit: 6.5e10,
      Tail: 0xab,
    });
  });
});

describe('tolerances', () => {
  const one = (text: string) => parseDbc(text).messages[0];

  it('reads CR-only and mixed line ends', () => {
    const text = 'VERSION ""\rBO_ 1 A: 1 X\r\n SG_ S : 0|8@1+ (1,0) [0|0] "" X\n';
    expect(one(text)?.signals[0]?.name).toBe('S');
  });

  it('reads ids with the extended flag, and reads 29-bit ids without it as extended (with a warning)', () => {
    expect(one('BO_ 2147483649 A: 8 X\n')).toMatchObject({ id: 1, extended: true });
    const db = parseDbc('BO_ 4096 A: 8 X\n');
    expect(db.messages[0]).toMatchObject({ id: 4096, extended: true });
    expect(db.warnings[0]?.line).toBe(1);
  });

  it('reads a message without a sender and signals without a unit string', () => {
    const m = one('BO_ 7 A: 2\n SG_ S : 0|16@1+ (1,0) [0|0]\n');
    expect(m).toMatchObject({ sender: '', length: 2 });
    expect(m?.signals[0]).toMatchObject({ unit: '', receivers: [] });
  });

  it('reads receivers canmatrix reads (names with dashes) and comments after a signal', () => {
    const m = one('BO_ 7 A: 2 X\n SG_ S : 0|16@1+ (1,0) [0|0] "V" ECU-1, ECU-2 // two receivers\n');
    expect(m?.signals[0]).toMatchObject({ unit: 'V', receivers: ['ECU-1', 'ECU-2'] });
  });

  it('reads multiplexer markers next to the name and mNM sub-multiplexers', () => {
    const m = one(
      'BO_ 9 A: 8 X\n SG_ Sel M : 0|4@1+ (1,0) [0|0] "" X\n SG_ Sub m1M : 4|4@1+ (1,0) [0|0] "" X\n' +
        ' SG_ Leaf m2 : 8|8@1+ (1,0) [0|0] "" X\nSG_MUL_VAL_ 9 Leaf Sub 2-3;\nSG_MUL_VAL_ 9 Sub Sel 1-1;\n',
    );
    expect(m?.signals.map((s) => [s.name, s.isMultiplexer, s.multiplexerSignal])).toEqual([
      ['Sel', true, null],
      ['Sub', true, 'Sel'],
      ['Leaf', false, 'Sub'],
    ]);
  });

  it('skips signals of the pseudo message of unsent signals, and duplicate message ids keep the last', () => {
    const db = parseDbc(
      'BO_ 3221225472 VECTOR__INDEPENDENT_SIG_MSG: 0 Vector__XXX\n SG_ Free : 0|8@1+ (1,0) [0|0] "" X\n' +
        'BO_ 5 First: 1 X\n SG_ A : 0|8@1+ (1,0) [0|0] "" X\nBO_ 5 Second: 1 X\n SG_ B : 0|8@1+ (1,0) [0|0] "" X\n',
    );
    expect(db.messages.map((m) => m.name)).toEqual(['Second']);
    expect(db.warnings.map((w) => w.line)).toEqual([5]);
  });

  it('decodes the bytes of a file: UTF-16 with a BOM, UTF-8, else Windows-1252', () => {
    const text = 'CM_ "°C €";';
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    expect(decodeDbcBytes(utf16)).toBe(text);
    expect(decodeDbcBytes(Buffer.from(text, 'utf8'))).toBe(text);
    expect(decodeDbcBytes(Buffer.from([0x22, 0xb0, 0x43, 0x20, 0x80, 0x22]))).toBe('"°C €"');
  });

  it('keeps warnings bounded on hostile input', () => {
    const db = parseDbc(`VERSION ""\n${'?? junk\n'.repeat(5000)}`);
    expect(db.warnings.length).toBeLessThanOrEqual(201);
    expect(db.warnings.at(-1)?.message).toMatch(/more warnings/);
  });
});

describe('what cannot be read is refused with a code and the line', () => {
  const cases: Array<[string, string, DbcErrorCode, number]> = [
    ['empty file', '', 'DBC_EMPTY', 1],
    ['not a DBC at all', 'sensors:\n  - name: x\n', 'DBC_EMPTY', 1],
    ['BO_ without a length', 'VERSION ""\nBO_ 1 A:\n', 'DBC_SYNTAX', 2],
    ['a hexadecimal id', 'BO_ 0x10 A: 8 X\n', 'DBC_SYNTAX', 1],
    ['an id beyond 32 bits', 'BO_ 4294967296 A: 8 X\n', 'DBC_INVALID', 1],
    ['SG_ before any BO_', 'VERSION ""\n\n SG_ S : 0|8@1+ (1,0) [0|0] "" X\n', 'DBC_SYNTAX', 3],
    ['a signal without a layout', 'BO_ 1 A: 8 X\n SG_ S : 0@1+ (1,0) [0|0] "" X\n', 'DBC_SYNTAX', 2],
    ['an unterminated unit', 'BO_ 1 A: 8 X\n SG_ S : 0|8@1+ (1,0) [0|0] "deg X\n', 'DBC_SYNTAX', 2],
    ['byte order @2', 'BO_ 1 A: 8 X\n SG_ S : 0|8@2+ (1,0) [0|0] "" X\n', 'DBC_SYNTAX', 2],
    ['a 65-bit signal', 'BO_ 1 A: 8 X\n\n SG_ S : 0|65@1+ (1,0) [0|0] "" X\n', 'DBC_INVALID', 3],
    ['a 0-bit signal', 'BO_ 1 A: 8 X\n SG_ S : 0|0@1+ (1,0) [0|0] "" X\n', 'DBC_INVALID', 2],
    ['bits beyond 64 bytes', 'BO_ 1 A: 64 X\n SG_ S : 508|8@1+ (1,0) [0|0] "" X\n', 'DBC_INVALID', 2],
    ['a factor of 1e999', 'BO_ 1 A: 8 X\n SG_ S : 0|8@1+ (1e999,0) [0|0] "" X\n', 'DBC_INVALID', 2],
    [
      'a signal defined twice',
      'BO_ 1 A: 8 X\n SG_ S : 0|8@1+ (1,0) [0|0] "" X\n SG_ S : 8|8@1+ (1,0) [0|0] "" X\n',
      'DBC_INVALID',
      3,
    ],
    ['a name that is no object key', 'BO_ 1 A: 8 X\n SG_ __proto__ : 0|8@1+ (1,0) [0|0] "" X\n', 'DBC_INVALID', 2],
    ['mN without M', 'BO_ 1 A: 8 X\n SG_ S m3 : 0|8@1+ (1,0) [0|0] "" X\n', 'DBC_INVALID', 2],
    [
      'a float that is not 32 bits',
      'BO_ 1 A: 8 X\n SG_ S : 0|12@1+ (1,0) [0|0] "" X\nSIG_VALTYPE_ 1 S : 1;\n',
      'DBC_INVALID',
      3,
    ],
    ['a malformed SIG_VALTYPE_', 'BO_ 1 A: 8 X\nSIG_VALTYPE_ 1 : 1;\n', 'DBC_SYNTAX', 2],
    [
      'SG_MUL_VAL_ ranges that are no ranges',
      'BO_ 1 A: 8 X\n SG_ M M : 0|8@1+ (1,0) [0|0] "" X\n SG_ S m1 : 8|8@1+ (1,0) [0|0] "" X\nSG_MUL_VAL_ 1 S M 1..2;\n',
      'DBC_SYNTAX',
      4,
    ],
    [
      'a selector the message does not have',
      'BO_ 1 A: 8 X\n SG_ S m1 : 8|8@1+ (1,0) [0|0] "" X\nSG_MUL_VAL_ 1 S Nope 1-1;\n',
      'DBC_INVALID',
      3,
    ],
    [
      'a multiplexer cycle',
      'BO_ 1 A: 8 X\n SG_ P m1M : 0|8@1+ (1,0) [0|0] "" X\n SG_ Q m1M : 8|8@1+ (1,0) [0|0] "" X\n' +
        'SG_MUL_VAL_ 1 P Q 1-1;\nSG_MUL_VAL_ 1 Q P 1-1;\n',
      'DBC_INVALID',
      4,
    ],
  ];
  for (const [what, text, code, line] of cases) {
    it(what, () => {
      const e = failure(text);
      expect(e).toMatchObject({ name: 'DbcError', code, line });
      expect(e.message.startsWith(`DBC line ${line}: `)).toBe(true);
    });
  }
});
