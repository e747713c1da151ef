import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameError } from '../../src/can/errors.js';
import {
  dlcToLength,
  formatCanId,
  formatData,
  frameToStreamFields,
  lengthToDlc,
  makeFrame,
  parseHexBytes,
  parseStreamFields,
} from '../../src/can/frame.js';

describe('frame formatting', () => {
  it('formats ids as candump does: 3 digits standard, 8 digits extended', () => {
    expect(formatCanId(0x101, false)).toBe('0x101');
    expect(formatCanId(0x7, false)).toBe('0x007');
    expect(formatCanId(0x343, true)).toBe('0x00000343');
    expect(formatCanId(0x1fffffff, true)).toBe('0x1FFFFFFF');
  });

  it('formats data as upper-case space-separated hex bytes', () => {
    expect(formatData(Uint8Array.from([0xaa, 0xff, 0x04, 0x10]))).toBe('AA FF 04 10');
    expect(formatData(new Uint8Array(0))).toBe('');
    expect(formatData(Uint8Array.from([0]))).toBe('00');
  });

  it('maps CAN FD DLC codes and lengths both ways', () => {
    expect(dlcToLength(8)).toBe(8);
    expect(dlcToLength(9)).toBe(12);
    expect(dlcToLength(15)).toBe(64);
    expect(lengthToDlc(13)).toBe(10);
    expect(lengthToDlc(64)).toBe(15);
    expect(() => lengthToDlc(65)).toThrow(FrameError);
    expect(() => dlcToLength(16)).toThrow(FrameError);
  });

  it('frameToStreamFields writes exactly id, data, ts, dlc', () => {
    const f = makeFrame(0x101, [0xaa, 0xff, 0x04, 0x10], 1734001123123);
    expect(frameToStreamFields(f)).toEqual({ id: '0x101', data: 'AA FF 04 10', ts: '1734001123123', dlc: '4' });
    const x = makeFrame(0x343, [1], 5, { extended: true });
    expect(frameToStreamFields(x)).toEqual({ id: '0x00000343', data: '01', ts: '5', dlc: '1' });
  });
});

describe('parseStreamFields', () => {
  const ok = { id: '0x101', data: 'AA FF 04 10', ts: '1734001123123', dlc: '4' };

  it('parses a contract entry', () => {
    const f = parseStreamFields(ok);
    expect(f).not.toBeInstanceOf(FrameError);
    const frame = f as Exclude<typeof f, FrameError>;
    expect(frame.id).toBe(0x101);
    expect(frame.extended).toBe(false);
    expect([...frame.data]).toEqual([0xaa, 0xff, 0x04, 0x10]);
    expect(frame.ts).toBe(1734001123123);
    expect(frame.dlc).toBe(4);
  });

  it('recognises extended ids by 8 digits or value', () => {
    const a = parseStreamFields({ ...ok, id: '0x00000343' });
    const b = parseStreamFields({ ...ok, id: '0x18FF50E5' });
    expect(a).toMatchObject({ id: 0x343, extended: true });
    expect(b).toMatchObject({ id: 0x18ff50e5, extended: true });
  });

  it('accepts empty data, contiguous hex and CAN FD sizes', () => {
    expect(parseStreamFields({ ...ok, data: '', dlc: '0' })).toMatchObject({ dlc: 0, fd: false });
    expect(parseStreamFields({ ...ok, data: 'aaff0410' })).toMatchObject({ dlc: 4 });
    const fd = parseStreamFields({ ...ok, data: Array(12).fill('11').join(' '), dlc: '12' });
    expect(fd).toMatchObject({ dlc: 12, fd: true });
  });

  const cases: Array<[string, Record<string, string | undefined>, string]> = [
    ['missing id', { ...ok, id: undefined }, 'MISSING_FIELD'],
    ['missing data', { ...ok, data: undefined }, 'MISSING_FIELD'],
    ['missing ts', { ...ok, ts: undefined }, 'MISSING_FIELD'],
    ['missing dlc', { ...ok, dlc: undefined }, 'MISSING_FIELD'],
    ['id without 0x', { ...ok, id: '101' }, 'BAD_ID'],
    ['id not hex', { ...ok, id: '0xZZ' }, 'BAD_ID'],
    ['id beyond 29 bits', { ...ok, id: '0x20000000' }, 'BAD_ID'],
    ['non-hex data', { ...ok, data: 'AA GG 04 10' }, 'BAD_HEX'],
    ['odd hex', { ...ok, data: 'AAF', dlc: '2' }, 'BAD_HEX'],
    ['badly spaced data', { ...ok, data: 'AA FF,04 10' }, 'BAD_HEX'],
    ['dlc mismatch', { ...ok, dlc: '8' }, 'DLC_MISMATCH'],
    ['dlc not a number', { ...ok, dlc: 'four' }, 'BAD_DLC'],
    ['dlc over 64', { ...ok, dlc: '65' }, 'OVERSIZED'],
    ['data over 64 bytes', { ...ok, data: Array(65).fill('00').join(' '), dlc: '65' }, 'OVERSIZED'],
    ['9 bytes is no FD size', { ...ok, data: Array(9).fill('00').join(' '), dlc: '9' }, 'BAD_LENGTH'],
    ['bad ts', { ...ok, ts: 'yesterday' }, 'BAD_TS'],
    ['negative ts', { ...ok, ts: '-5' }, 'BAD_TS'],
    ['empty ts', { ...ok, ts: '' }, 'BAD_TS'],
  ];
  it.each(cases)('rejects %s with a typed error', (_name, fields, code) => {
    const r = parseStreamFields(fields);
    expect(r).toBeInstanceOf(FrameError);
    expect((r as FrameError).code).toBe(code);
  });

  it('round-trips any frame through the stream fields', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 0, max: 0x1fffffff }),
        fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64),
        fc.integer({ min: 0, max: 2 ** 45 }),
        (ext, rawId, len, ts) => {
          const id = ext ? rawId : rawId & 0x7ff;
          const data = Uint8Array.from({ length: len }, (_, i) => (i * 37 + id) & 0xff);
          const f = makeFrame(id, data, ts, { extended: ext });
          const back = parseStreamFields({ ...frameToStreamFields(f) });
          expect(back).toEqual(f);
        },
      ),
    );
  });

  it('parseHexBytes refuses more bytes than allowed', () => {
    expect(parseHexBytes('00 11 22', 2)).toBeNull();
    expect([...(parseHexBytes('00 11', 2) as Uint8Array)]).toEqual([0, 0x11]);
  });
});
