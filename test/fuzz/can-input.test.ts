import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCandumpLine, parseCandumpLine } from '../../src/can/candump.js';
import { FrameError } from '../../src/can/errors.js';
import { FD_LENGTHS, frameToStreamFields, makeFrame, parseStreamFields } from '../../src/can/frame.js';
import { LineSplitter } from '../../src/can/sources/line-splitter.js';

/**
 * Fuzzing the CAN inputs: `candump -L` lines (the scanner's pipe, SocketCAN
 * and replay sources) and the fields of `can:raw` entries (what the worker
 * reads from Redis, written by anyone with access). Never an exception:
 * a frame or a FrameError with a stable code.
 */

const hex = (n: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: n, maxLength: n });
/** Lines that look like candump output, mutated in every field. */
const candumpish = fc
  .tuple(
    fc.oneof(fc.constant('('), fc.string({ maxLength: 2 })),
    fc.oneof(fc.integer({ min: 0, max: 2e12 }).map(String), fc.string({ maxLength: 14 })),
    fc.constantFrom('.', '', ','),
    fc.oneof(hex(6), fc.string({ maxLength: 10 })),
    fc.constantFrom(') ', ')', ' '),
    fc.oneof(fc.constantFrom('can0', 'vcan1', ''), fc.string({ maxLength: 40 })),
    fc.constantFrom(' ', '  ', '\t'),
    fc.oneof(hex(3), hex(8), fc.string({ maxLength: 9 })),
    fc.constantFrom('#', '##', '###', ''),
    fc.oneof(
      hex(2),
      hex(16),
      hex(128),
      hex(130),
      fc.constantFrom('R', 'R4', 'R9', '1AABB', ''),
      fc.string({ maxLength: 140 }),
    ),
    fc.constantFrom('', '_E', '_1', ' R', ' T'),
  )
  .map((parts) => parts.join(''));

describe('fuzz: CAN inputs', () => {
  it('candump lines: a frame or a FrameError, never an exception', () => {
    fc.assert(
      fc.property(fc.oneof(candumpish, fc.string({ unit: 'binary', maxLength: 600 })), (line) => {
        const r = parseCandumpLine(line);
        if (!r.ok) expect(r.error).toBeInstanceOf(FrameError);
        else {
          expect(r.frame.data.length).toBeLessThanOrEqual(64);
          expect(Number.isFinite(r.frame.ts)).toBe(true);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('candump lines: every frame written is read back the same', () => {
    const frame = fc
      .tuple(
        fc.boolean(),
        fc.integer({ min: 0, max: 0x1fffffff }),
        fc.constantFrom(...FD_LENGTHS).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
        fc.integer({ min: 0, max: 4e12 }),
      )
      .map(([ext, id, data, ts]) => makeFrame(ext ? id : id & 0x7ff, data, ts, { extended: ext, fd: data.length > 8 }));
    fc.assert(
      fc.property(frame, (f) => {
        const r = parseCandumpLine(formatCandumpLine(f));
        expect(r.ok).toBe(true);
        if (r.ok) {
          expect(r.frame.id).toBe(f.id);
          expect([...r.frame.data]).toEqual([...f.data]);
          expect(r.frame.ts).toBe(f.ts);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('can:raw fields: a frame or a FrameError, never an exception; valid fields round-trip', () => {
    const field = fc.oneof(
      fc.constant(undefined),
      fc.string({ unit: 'binary', maxLength: 250 }),
      hex(3).map((h) => `0x${h}`),
      fc.integer({ min: -5, max: 70 }).map(String),
      fc.uint8Array({ maxLength: 70 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ')),
    );
    fc.assert(
      fc.property(fc.record({ id: field, data: field, ts: field, dlc: field }), (fields) => {
        const r = parseStreamFields(fields);
        if (r instanceof FrameError) return;
        expect(parseStreamFields(frameToStreamFields(r))).toEqual(r);
      }),
      { numRuns: 5000 },
    );
  });

  it('LineSplitter: any chunking gives the lines of the text; lines over the cap are reported, never kept', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom('a', 'b', '\n', '\r'), maxLength: 40 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 30 }),
        (pieces, cap) => {
          const text = pieces.join('');
          const lines: string[] = [];
          const over: number[] = [];
          const s = new LineSplitter(
            cap,
            (l) => lines.push(l),
            (bytes) => over.push(bytes),
          );
          for (const p of pieces) s.push(p);
          s.end();
          const want = text.split('\n');
          if (want[want.length - 1] === '') want.pop();
          const kept = want.filter((l) => l.length <= cap).map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
          expect(lines).toEqual(kept);
          expect(over.length).toBe(want.filter((l) => l.length > cap).length);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
