import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DbcDecoder, parseDbc, type DbcDatabase } from '../../../src/can/dbc/index.js';
import { database, renderDbc } from './generate.js';
import { messyStyle, renderMessy } from './messy.js';

/**
 * Metamorphic test of the parser's tolerance: a generated database spelled
 * canonically (as the canmatrix differential test checks it) and spelled
 * the messy ways real files are spelled must give the same messages and
 * signals, and decode every frame identically.
 */

/** What decoding depends on (units, receivers and senders differ on purpose between the spellings). */
function shape(db: DbcDatabase): unknown {
  return db.messages.map((m) => ({
    id: m.id,
    extended: m.extended,
    fd: m.fd,
    name: m.name,
    length: m.length,
    signals: m.signals.map((s) => ({
      name: s.name,
      startBit: s.startBit,
      length: s.length,
      byteOrder: s.byteOrder,
      signed: s.signed,
      valueType: s.valueType,
      factor: s.factor,
      offset: s.offset,
      isMultiplexer: s.isMultiplexer,
      multiplexerSignal: s.multiplexerSignal,
      multiplexerRanges: s.multiplexerRanges,
    })),
  }));
}

describe('messy spellings read like the canonical one', () => {
  it('same messages, same signals, same decoded values', () => {
    fc.assert(
      fc.property(database(4), messyStyle, (messages, style) => {
        const canonical = parseDbc(renderDbc(messages));
        const messy = parseDbc(renderMessy(messages, style));
        expect(shape(messy)).toEqual(shape(canonical));
        expect(messy.warnings.filter((w) => !/unknown statement XX_TOOL_SPECIFIC_/.test(w.message))).toEqual([]);
        const a = new DbcDecoder(canonical);
        const b = new DbcDecoder(messy);
        for (const m of messages) {
          for (const data of m.frames) {
            const x: Record<string, number> = {};
            const y: Record<string, number> = {};
            a.get(m.id, m.extended)?.decodeValues(data, x);
            b.get(m.id, m.extended)?.decodeValues(data, y);
            expect(y).toEqual(x);
          }
        }
      }),
      { numRuns: 300 },
    );
  }, 180_000);
});
