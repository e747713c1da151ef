import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatCandumpLine, parseCandumpLine } from '../../src/can/candump.js';
import { makeFrame, type CanFrame } from '../../src/can/frame.js';

const frameOf = (line: string): CanFrame => {
  const r = parseCandumpLine(line);
  if (!r.ok) throw r.error;
  return r.frame;
};
const errorOf = (line: string): string => {
  const r = parseCandumpLine(line);
  if (r.ok) throw new Error(`parsed: ${line}`);
  return r.error.code;
};

describe('candump -L parser', () => {
  it('classic standard frame', () => {
    const r = parseCandumpLine('(1700000000.123456) can0 123#DEADBEEF');
    expect(r).toMatchObject({ ok: true, iface: 'can0', fdFlags: 0 });
    const f = frameOf('(1700000000.123456) can0 123#DEADBEEF');
    expect(f).toMatchObject({
      id: 0x123,
      extended: false,
      rtr: false,
      fd: false,
      error: false,
      dlc: 4,
      ts: 1700000000123,
    });
    expect([...f.data]).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });

  it('empty data and lower-case hex', () => {
    expect(frameOf('(1.000001) vcan0 7ff#')).toMatchObject({ id: 0x7ff, dlc: 0, ts: 1000 });
    expect([...frameOf('(1.5) can1 101#aabb').data]).toEqual([0xaa, 0xbb]);
  });

  it('extended 8-digit ids', () => {
    expect(frameOf('(1700000000.000000) can0 00000343#01')).toMatchObject({ id: 0x343, extended: true });
    expect(frameOf('(1700000000.000000) can0 18FF50E5#0102')).toMatchObject({ id: 0x18ff50e5, extended: true });
  });

  it('remote requests with and without a length', () => {
    expect(frameOf('(1.0) can0 123#R')).toMatchObject({ rtr: true, dlc: 0, data: new Uint8Array(0) });
    expect(frameOf('(1.0) can0 123#R4')).toMatchObject({ rtr: true, dlc: 4 });
    expect(frameOf('(1.0) can0 00000123#R8')).toMatchObject({ rtr: true, dlc: 8, extended: true });
  });

  it('CAN FD with the flags nibble', () => {
    const r = parseCandumpLine('(1.0) can0 123##1AABB');
    expect(r).toMatchObject({ ok: true, fdFlags: 1 });
    expect(frameOf('(1.0) can0 123##1AABB')).toMatchObject({ fd: true, dlc: 2 });
    const big = '(1.0) can0 18FF50E5##3' + '11'.repeat(64);
    expect(frameOf(big)).toMatchObject({ fd: true, dlc: 64, extended: true });
  });

  it('error frames by CAN_ERR_FLAG', () => {
    const f = frameOf('(1700000000.1) can0 20000004#0004000000000000');
    expect(f).toMatchObject({ error: true, id: 0x4, extended: true, dlc: 8 });
  });

  it('len8_dlc suffix and trailing direction flag', () => {
    expect(frameOf('(1.0) can0 123#1122334455667788_E')).toMatchObject({ dlc: 8 });
    expect(frameOf('(1.0) can0 123#11 R')).toMatchObject({ dlc: 1 });
  });

  const malformed: Array<[string, string]> = [
    ['', 'BAD_LINE'],
    ['garbage', 'BAD_LINE'],
    ['(abc) can0 123#11', 'BAD_LINE'],
    ['(1.0) can0 123', 'BAD_LINE'],
    ['(1.0) can0 12#11', 'BAD_ID'],
    ['(1.0) can0 1234#11', 'BAD_ID'],
    ['(1.0) can0 800#11', 'BAD_ID'],
    ['(1.0) can0 XYZ#11', 'BAD_ID'],
    ['(1.0) can0 123#1G', 'BAD_HEX'],
    ['(1.0) can0 123#123', 'BAD_HEX'],
    ['(1.0) can0 123#112233445566778899', 'OVERSIZED'],
    ['(1.0) can0 123##Z11', 'BAD_HEX'],
    ['(1.0) can0 123##1' + '00'.repeat(9), 'BAD_LENGTH'],
    ['(1.0) can0 123##1' + '00'.repeat(65), 'OVERSIZED'],
    ['(1.0) can0 123#R9', 'BAD_DLC'],
    ['(1.0) can0 123#11_Z', 'BAD_DLC'],
    ['(1.0) can0 123###000', 'UNSUPPORTED'],
    ['(1.0) can0 123#' + '0'.repeat(500), 'OVERSIZED'],
  ];
  it.each(malformed)('malformed %j → %s (a result, not a throw)', (line, code) => {
    expect(errorOf(line)).toBe(code);
  });

  it('formatCandumpLine writes what parseCandumpLine reads', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 0, max: 0x1fffffff }),
        fc.constantFrom(0, 1, 4, 8, 12, 64),
        fc.integer({ min: 0, max: 2 ** 41 }),
        (ext, rawId, len, ts) => {
          const id = ext ? rawId : rawId & 0x7ff;
          const data = Uint8Array.from({ length: len }, (_, i) => (i * 31 + 7) & 0xff);
          const f = makeFrame(id, data, ts, { extended: ext });
          expect(frameOf(formatCandumpLine(f, 'can3'))).toEqual(f);
        },
      ),
    );
    const rtr = makeFrame(0x123, [], 5000, { rtr: true, dlc: 3 });
    expect(formatCandumpLine(rtr)).toBe('(5.000000) can0 123#R3');
    expect(frameOf(formatCandumpLine(rtr))).toEqual(rtr);
    const err = makeFrame(0x4, new Uint8Array(8), 1, { error: true, extended: true });
    expect(formatCandumpLine(err)).toMatch(/ 20000004#0{16}$/);
  });
});
