import fs from 'node:fs';
import { DbcDecoder } from './decoder.js';
import { parseDbc } from './parser.js';
import type { DbcDatabase } from './types.js';

export * from './types.js';
export { parseDbc } from './parser.js';
export { CompiledMessage, DbcDecoder, type DecodedMessage, type DecodedSignal, type RangeStatus } from './decoder.js';

/** Reads and parses a DBC file (latin-1 tolerant: DBC files are often Windows-1252). */
export function loadDbcFile(path: string): DbcDatabase {
  const buf = fs.readFileSync(path);
  const text = buf.toString('utf8').includes('\uFFFD') ? buf.toString('latin1') : buf.toString('utf8');
  return parseDbc(text);
}

/** Parses and compiles in one step. */
export function compileDbc(text: string): DbcDecoder {
  return new DbcDecoder(parseDbc(text));
}
