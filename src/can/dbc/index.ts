import fs from 'node:fs';
import { DbcDecoder } from './decoder.js';
import { parseDbc } from './parser.js';
import type { DbcDatabase } from './types.js';

export * from './types.js';
export { parseDbc } from './parser.js';
export { KEYWORDS } from './statements.js';
export { CompiledMessage, DbcDecoder, type DecodedMessage, type DecodedSignal, type RangeStatus } from './decoder.js';

/**
 * The text of a DBC file: UTF-8 (with or without a byte-order mark), UTF-16
 * with a byte-order mark, else Windows-1252 (what CANdb++ writes, and the
 * default of cantools and canmatrix), which is also how bytes that are not
 * valid UTF-8 are read.
 */
export function decodeDbcBytes(buf: Uint8Array): string {
  if (buf[0] === 0xff && buf[1] === 0xfe) return new TextDecoder('utf-16le').decode(buf);
  if (buf[0] === 0xfe && buf[1] === 0xff) return new TextDecoder('utf-16be').decode(buf);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    // Node's 'windows-1252' decoder is ISO-8859-1; map the 0x80–0x9F range by hand.
    return Buffer.from(buf)
      .toString('latin1')
      .replace(/[\x80-\x9f]/g, (c) => CP1252.charAt(c.charCodeAt(0) - 0x80));
  }
}

/** Windows-1252 characters of the bytes 0x80–0x9F (the five unassigned ones stay control characters). */
const CP1252 = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ';

/** Reads and parses a DBC file (see {@link decodeDbcBytes} for the encodings). */
export function loadDbcFile(path: string): DbcDatabase {
  return parseDbc(decodeDbcBytes(fs.readFileSync(path)));
}

/** Parses and compiles in one step. */
export function compileDbc(text: string): DbcDecoder {
  return new DbcDecoder(parseDbc(text));
}
