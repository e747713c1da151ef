import { spawnSync } from '../../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DbcDecoder, loadDbcFile, type DecodedSignal } from '../../../src/can/dbc/index.js';
import { tempDir } from '../../support/tmp.js';
import { database, renderDbc, type GenMessage } from './generate.js';

/**
 * Differential tests: random DBC files and random frames decoded by Canopy
 * and by canmatrix (Debian python3-canmatrix, an independent implementation),
 * compared signal by signal: which signals are present (multiplexing), the
 * raw value (exactly) and the physical value (within a relative tolerance:
 * canmatrix computes in Decimal, Canopy in doubles).
 *
 * Known canmatrix limits kept out of the generated cases, on purpose:
 * - canmatrix decodes only frames of exactly the declared length
 *   (DecodingFrameLength otherwise), so frames have the declared length;
 *   Canopy's handling of short frames is tested in dbc.test.ts.
 * - canmatrix follows a single chain of sub-multiplexers (the first
 *   multiplexer in range at each level), so an extended-multiplexed message
 *   has one sub-multiplexer; several selected at once would differ by design.
 * - canmatrix's SG_ expression for multiplexed signals allows no space after
 *   the comma of `(factor,offset)` and its BO_ expression wants single spaces,
 *   so the generator writes the canonical layout; the tolerant spellings are
 *   tested against fixtures in dbc-wild.test.ts.
 */

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HELPER = path.join(HERE, 'canmatrix_decode.py');
const FIXTURES = path.join(HERE, '..', 'fixtures');
/** The Debian interpreter that has python3-canmatrix (not whatever python3 is first on PATH). */
const PYTHON = '/usr/bin/python3';

interface TheirSignal {
  raw: string;
  value: string;
}
type TheirFrame = Record<string, TheirSignal> | { error: string };
interface TheirCase {
  error: string | null;
  frames: TheirFrame[];
}
interface Frame {
  id: number;
  extended: boolean;
  data: Uint8Array;
}

/** Decodes every frame of every case with canmatrix, in one Python process. */
function canmatrix(cases: Array<{ dbc: string; frames: Frame[] }>): TheirCase[] {
  const input = JSON.stringify({
    cases: cases.map((c) => ({
      dbc: c.dbc,
      frames: c.frames.map((f) => ({ id: f.id, extended: f.extended, data: Buffer.from(f.data).toString('hex') })),
    })),
  });
  const r = spawnSync(PYTHON, [HELPER], { input, encoding: 'utf8', maxBuffer: 1 << 28, timeout: 300_000 });
  if (r.status !== 0) throw new Error(`canmatrix helper failed (${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { results: TheirCase[] }).results;
}

/** NaN equals NaN, -0 is not 0, infinities equal themselves. */
function sameFloat(a: number, b: number): boolean {
  return Object.is(a, b);
}

/** Physical values agree to 1e-9 of the largest term (Decimal versus double rounding). */
function close(ours: number, theirs: number, offset: number): boolean {
  if (Number.isNaN(ours) || Number.isNaN(theirs) || !Number.isFinite(ours) || !Number.isFinite(theirs)) {
    return Object.is(ours, theirs) || (ours === theirs && ours !== 0);
  }
  const scale = Math.max(Math.abs(ours), Math.abs(theirs), Math.abs(offset), Number.MIN_VALUE);
  return Math.abs(ours - theirs) <= 1e-9 * scale;
}

/** The differences between Canopy's and canmatrix's decoding of one frame, as readable lines. */
function compare(
  ours: DecodedSignal[],
  theirs: TheirFrame,
  offsets: Map<string, number>,
  floats: Set<string>,
): string[] {
  if ('error' in theirs && typeof theirs.error === 'string') return [`canmatrix failed: ${theirs.error}`];
  const t = theirs as Record<string, TheirSignal>;
  const diffs: string[] = [];
  const ourNames = ours.map((s) => s.name).sort();
  const theirNames = Object.keys(t).sort();
  if (ourNames.join() !== theirNames.join()) diffs.push(`present: ours ${ourNames.join()} theirs ${theirNames.join()}`);
  for (const s of ours) {
    const other = t[s.name];
    if (!other) continue;
    const rawOk = floats.has(s.name)
      ? sameFloat(s.raw as number, Number(other.raw))
      : BigInt(s.raw) === BigInt(other.raw);
    if (!rawOk) diffs.push(`${s.name} raw: ours ${String(s.raw)} theirs ${other.raw}`);
    if (!close(s.value, Number(other.value), offsets.get(s.name) ?? 0)) {
      diffs.push(`${s.name} value: ours ${s.value} theirs ${other.value}`);
    }
  }
  return diffs;
}

interface Coverage {
  /** Signal values compared. */
  compared: number;
  /** Of which IEEE float / double. */
  floats: number;
  /** Frames in which a multiplexed signal was left out (by both). */
  leftOut: number;
}

/** Decodes each message's frames with both and returns every difference with its DBC file. */
function differences(files: Array<{ dbc: string; messages: GenMessage[] }>, coverage?: Coverage): string[] {
  const cases = files.map((f) => ({
    dbc: f.dbc,
    frames: f.messages.flatMap((m) => m.frames.map((data) => ({ id: m.id, extended: m.extended, data }))),
  }));
  const theirs = canmatrix(cases);
  const out: string[] = [];
  files.forEach((f, i) => {
    const result = theirs[i] as TheirCase;
    if (result.error !== null) {
      out.push(`${f.dbc}: canmatrix could not load it: ${result.error}`);
      return;
    }
    const decoder = new DbcDecoder(loadDbcFile(f.dbc));
    let k = 0;
    for (const m of f.messages) {
      const compiled = decoder.get(m.id, m.extended);
      const offsets = new Map(compiled?.message.signals.map((s) => [s.name, s.offset]));
      const floats = new Set(compiled?.message.signals.filter((s) => s.valueType !== 'integer').map((s) => s.name));
      for (const data of m.frames) {
        const frame = result.frames[k++] as TheirFrame;
        const ours = compiled?.decode(data);
        const diffs = ours ? compare(ours.signals, frame, offsets, floats) : ['Canopy does not know the id'];
        if (coverage && ours) {
          coverage.compared += ours.signals.length;
          coverage.floats += ours.signals.filter((x) => floats.has(x.name)).length;
          if (ours.signals.length < (compiled?.message.signals.length ?? 0)) coverage.leftOut++;
        }
        for (const d of diffs) out.push(`${f.dbc} ${m.name} ${Buffer.from(data).toString('hex')}: ${d}`);
      }
    }
  });
  return out;
}

describe('differential: Canopy and canmatrix decode the same', () => {
  it('random DBC files and random frames', () => {
    const seed = Number(process.env.CANOPY_DIFF_SEED ?? Date.now() % 2 ** 31);
    const dir = tempDir('canopy-dbc-diff-');
    const dbs = fc.sample(database(16), { numRuns: 150, seed });
    const files = dbs.map((messages, i) => {
      const dbc = path.join(dir, `gen-${i}.dbc`);
      fs.writeFileSync(dbc, renderDbc(messages));
      return { dbc, messages };
    });
    const frames = files.reduce((n, f) => n + f.messages.reduce((k, m) => k + m.frames.length, 0), 0);
    expect(frames).toBeGreaterThan(1000);
    const coverage: Coverage = { compared: 0, floats: 0, leftOut: 0 };
    const diffs = differences(files, coverage);
    // Re-run a failure with CANOPY_DIFF_SEED=<seed>.
    expect(diffs.slice(0, 10), `seed ${seed}: ${diffs.length} differences`).toEqual([]);
    // The run exercised what it claims to: many values, floats, multiplexed signals left out.
    expect(coverage.compared).toBeGreaterThan(5000);
    expect(coverage.floats).toBeGreaterThan(50);
    expect(coverage.leftOut).toBeGreaterThan(100);
  }, 180_000);

  it('the wild CANdb++ fixture, with random frames of each message', () => {
    const dbc = path.join(FIXTURES, 'wild-candb.dbc');
    const db = loadDbcFile(dbc);
    const messages = db.messages.map((m) => ({
      ...m,
      rawId: m.id,
      signals: [],
      frames: fc.sample(fc.uint8Array({ minLength: m.length, maxLength: m.length }), { numRuns: 200, seed: m.id }),
    }));
    expect(differences([{ dbc, messages }])).toEqual([]);
  });
});
