import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DbcDecoder, KEYWORDS, parseDbc } from '../../src/can/dbc/index.js';
import { DbcError } from '../../src/can/errors.js';

/**
 * Fuzzing the DBC parser: for any text, parseDbc returns a database that
 * compiles and decodes any frame, or throws a DbcError with a stable code
 * and a line inside the text. Nothing else escapes, and pathological inputs
 * finish (linear-time scanning, no recursion).
 */

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SEEDS = [
  fs.readFileSync(path.join(HERE, 'fixtures', 'wild-candb.dbc'), 'latin1'),
  fs.readFileSync(path.join(HERE, 'fixtures', 'wild-hand-edited.dbc'), 'utf8'),
  fs.readFileSync(path.join(HERE, '..', '..', 'config', 'canopy.dbc'), 'utf8'),
];
const CODES = new Set(['DBC_SYNTAX', 'DBC_INVALID', 'DBC_EMPTY']);

/** The property every input must satisfy; returns the error code, or 'ok' with the number of messages. */
function check(text: string, frames: Uint8Array[] = [new Uint8Array(64).fill(0xa5), new Uint8Array(3)]): string {
  let db;
  try {
    db = parseDbc(text);
  } catch (e) {
    if (!(e instanceof DbcError)) throw new Error(`not a DbcError: ${String(e)}`, { cause: e });
    expect(CODES.has(e.code)).toBe(true);
    expect(e.line).toBeGreaterThanOrEqual(1);
    expect(e.line).toBeLessThanOrEqual(text.split(/\r\n|\n|\r/).length);
    return e.code;
  }
  const decoder = new DbcDecoder(db);
  for (const m of db.messages) {
    for (const data of frames) {
      const d = decoder.get(m.id, m.extended)?.decode(data);
      expect(d?.name).toBe(m.name);
      for (const s of d?.signals ?? []) expect(typeof s.value).toBe('number');
    }
  }
  expect(db.warnings.length).toBeLessThanOrEqual(201);
  return db.messages.length > 0 ? 'messages' : 'ok';
}

/** How often each outcome came up, to show a fuzz run reached both valid databases and refusals. */
function tally(outcomes: Map<string, number>, outcome: string): void {
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
}

const token = fc.oneof(
  fc.constantFrom(...KEYWORDS),
  fc.constantFrom(
    ' ',
    ' ',
    '\t',
    '\n',
    '\r\n',
    ':',
    ';',
    ',',
    '|',
    '@',
    '(',
    ')',
    '[',
    ']',
    '+',
    '-',
    '"',
    '//',
    'M',
    'm1',
    'm2M',
  ),
  fc.integer({ min: -5, max: 600 }).map(String),
  fc.constantFrom('0|8@1+', '7|16@0-', '(0.1,-40)', '[0|100]', '"degC"', '2147483905', '3221225472', '1e999', '0-3'),
  fc.string({ maxLength: 6 }),
  fc.stringMatching(/^[A-Za-z_]\w{0,6}$/),
);

describe('DBC parser fuzzing', () => {
  it('arbitrary text: a database or a DbcError naming a line', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        check(text);
      }),
      { numRuns: 1000 },
    );
  }, 180_000);

  it('token soup: DBC keywords, numbers, strings and punctuation in random order', () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(fc.array(token, { maxLength: 120 }), (tokens) => tally(outcomes, check(tokens.join('')))),
      { numRuns: 3000 },
    );
    expect(outcomes.get('DBC_SYNTAX')).toBeGreaterThan(0);
  });

  it('mutated real DBC files: deletions, insertions, swapped and duplicated lines, truncation', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: token }),
      fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
      fc.record({ kind: fc.constant('dup' as const), a: fc.nat() }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    );
    const outcomes = new Map<string, number>();
    const apply = (text: string, m: MutationValue): string => {
      if (m.kind === 'delete') {
        const at = m.at % (text.length + 1);
        return text.slice(0, at) + text.slice(at + m.len);
      }
      if (m.kind === 'insert') {
        const at = m.at % (text.length + 1);
        return text.slice(0, at) + m.text + text.slice(at);
      }
      if (m.kind === 'truncate') return text.slice(0, m.at % (text.length + 1));
      const lines = text.split('\n');
      const a = m.a % lines.length;
      if (m.kind === 'dup') lines.splice(a, 0, lines[a] as string);
      else {
        const b = m.b % lines.length;
        [lines[a], lines[b]] = [lines[b] as string, lines[a] as string];
      }
      return lines.join('\n');
    };
    fc.assert(
      fc.property(
        fc.constantFrom(...SEEDS),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 64 }), { minLength: 1, maxLength: 3 }),
        (seed, mutations, frames) => tally(outcomes, check(mutations.reduce(apply, seed), frames)),
      ),
      { numRuns: 1500 },
    );
    // Many mutants still read (with warnings), and refusals of both kinds came up.
    expect(outcomes.get('messages')).toBeGreaterThan(300);
    expect(outcomes.get('DBC_SYNTAX')).toBeGreaterThan(10);
    expect(outcomes.get('DBC_INVALID')).toBeGreaterThan(0);
  }, 180_000);

  it('the unmutated seeds parse', () => {
    for (const s of SEEDS) expect(parseDbc(s).messages.length).toBeGreaterThan(0);
  });
});

type MutationValue =
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'dup'; a: number }
  | { kind: 'truncate'; at: number };

describe('DBC parser on pathological input finishes (linear scanning, no recursion)', () => {
  const N = 200_000;
  const cases: Array<[string, () => string]> = [
    ['an unterminated string at the start', () => `CM_ "${'x\n'.repeat(N)}`],
    ['many unterminated statements', () => 'CM_ \n\n'.repeat(N)],
    ['many statements on one line', () => `VERSION ""\n${'CM_ "a";'.repeat(N)}`],
    ['a signal line of spaces', () => `BO_ 1 A: 8 X\n SG_ S${' '.repeat(N * 5)}!\n`],
    ['a unit followed by spaces', () => `BO_ 1 A: 8 X\n SG_ S : 0|8@1+ (1,0) [0|0]${' '.repeat(N * 5)}"\n`],
    ['a factor of a million digits', () => `BO_ 1 A: 8 X\n SG_ S : 0|8@1+ (${'9'.repeat(N * 5)}x,0) [0|0] "" X\n`],
    [
      'a value table of digits',
      () => `BO_ 1 A: 8 X\n SG_ S : 0|8@1+ (1,0) [0|0] "" X\nVAL_ 1 S ${'1'.repeat(N * 5)};\n`,
    ],
    ['quotes only', () => `VERSION ""\nCM_ ${'"'.repeat(N * 5)};\n`],
    [
      'a multiplexer chain 20000 deep',
      () => {
        const sigs = ['BO_ 1 A: 8 X', ' SG_ S0 M : 0|1@1+ (1,0) [0|0] "" X'];
        const mul: string[] = [];
        for (let i = 1; i <= 20_000; i++) {
          sigs.push(` SG_ S${i} m1M : ${i % 64}|1@1+ (1,0) [0|0] "" X`);
          mul.push(`SG_MUL_VAL_ 1 S${i} S${i - 1} 1-1;`);
        }
        return [...sigs, ...mul, ''].join('\n');
      },
    ],
  ];
  for (const [what, make] of cases) {
    it(what, () => {
      const text = make();
      check(text, [new Uint8Array(8).fill(0xff)]);
    });
  }
});
