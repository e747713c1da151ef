import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { BusLogger } from './log.js';
import { silentLogger } from './log.js';

/**
 * One record of a spool file. `w` is the writer that produced it, `q` its
 * sequence number in that writer (only grows), `t` the unix ms it was
 * accepted, `f` the stream entry's fields; `i`, when set, the stream id a
 * primary gave it already (a batch no replica confirmed): the replay keeps it.
 */
export interface SpoolRecord {
  w: string;
  q: number;
  t: number;
  f: Record<string, string>;
  i?: string;
}

/** A record read back, with the file offset just after it. */
export interface SpoolRead {
  records: SpoolRecord[];
  /** Offset after the last complete line read. */
  next: number;
  /** Lines whose checksum or JSON was bad (skipped, counted, logged). */
  corrupt: number;
}

/**
 * The on-disk format: one record per line, `<crc32 hex, 8 chars> <JSON>\n`.
 * A line whose checksum does not match, or a last line without its newline
 * (a write torn by a crash), is detected; a torn tail is cut off on open,
 * a bad line in the middle is skipped and counted.
 */
export function encodeRecord(r: SpoolRecord): string {
  const json = JSON.stringify(r);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** Parses one line (without its newline); `undefined` when it is corrupt. */
export function decodeRecord(line: string): SpoolRecord | undefined {
  if (line.length < 10 || line[8] !== ' ') return undefined;
  const json = line.slice(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) return undefined;
  try {
    const r = JSON.parse(json) as SpoolRecord;
    if (typeof r.w !== 'string' || typeof r.q !== 'number' || typeof r.f !== 'object' || r.f === null) return undefined;
    return r;
  } catch {
    return undefined;
  }
}

/**
 * An append-only spool file: appends are fsync'd per batch; reads go by
 * offset; {@link truncate} empties it once its contents are confirmed
 * elsewhere. Not safe for two processes at once: one file per writer.
 */
export class SpoolFile {
  readonly path: string;
  readonly #fh: fs.promises.FileHandle;
  readonly #log: BusLogger;
  #size: number;

  private constructor(p: string, fh: fs.promises.FileHandle, size: number, log: BusLogger) {
    this.path = p;
    this.#fh = fh;
    this.#size = size;
    this.#log = log;
  }

  /**
   * Opens (creating with mode 0600 in a 0700 directory) and checks the file:
   * returns it with the number of valid records in it. A torn tail is cut off.
   */
  static async open(p: string, log: BusLogger = silentLogger): Promise<{ file: SpoolFile; records: number }> {
    await fs.promises.mkdir(path.dirname(p), { recursive: true, mode: 0o700 });
    const fh = await fs.promises.open(p, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o600);
    const size = (await fh.stat()).size;
    const file = new SpoolFile(p, fh, size, log);
    let offset = 0;
    let records = 0;
    let corrupt = 0;
    while (offset < size) {
      const r = await file.read(offset, 1 << 20, Number.POSITIVE_INFINITY, false);
      if (r.next === offset) break;
      records += r.records.length;
      corrupt += r.corrupt;
      offset = r.next;
    }
    if (corrupt > 0) log.error({ spool: p, corrupt }, 'spool file has corrupt records; they will be skipped');
    if (offset < size) {
      log.warn({ spool: p, bytes: size - offset }, 'spool file ends in a torn record; cutting it off');
      await fh.truncate(offset);
      await fh.sync();
      file.#size = offset;
    }
    return { file, records };
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Appends the records and fsyncs once. With `maxBytes`, a batch that
   * would make the file larger than that is not written at all (false).
   */
  async append(records: ReadonlyArray<SpoolRecord>, maxBytes = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (records.length === 0) return true;
    const text = records.map(encodeRecord).join('');
    const buf = Buffer.from(text, 'utf8');
    if (this.#size + buf.length > maxBytes) return false;
    await this.#fh.write(buf, 0, buf.length, null);
    await this.#fh.sync();
    this.#size += buf.length;
    return true;
  }

  /**
   * Reads complete lines from `offset`, at most `maxRecords` of them, in
   * chunks of `chunkBytes` (grown when one line is longer).
   */
  async read(
    offset: number,
    chunkBytes = 256 * 1024,
    maxRecords = Number.POSITIVE_INFINITY,
    log = true,
  ): Promise<SpoolRead> {
    const out: SpoolRead = { records: [], next: offset, corrupt: 0 };
    let want = chunkBytes;
    while (out.next < this.#size && out.records.length < maxRecords) {
      const len = Math.min(want, this.#size - out.next);
      const buf = Buffer.alloc(len);
      const { bytesRead } = await this.#fh.read(buf, 0, len, out.next);
      const last = buf.lastIndexOf(0x0a, bytesRead - 1);
      if (last < 0) {
        if (out.next + bytesRead >= this.#size) break; // torn tail: no newline until the end
        want *= 2;
        continue;
      }
      let start = 0;
      while (start <= last && out.records.length < maxRecords) {
        const nl = buf.indexOf(0x0a, start);
        const line = buf.toString('utf8', start, nl);
        const rec = decodeRecord(line);
        if (rec) out.records.push(rec);
        else {
          out.corrupt++;
          if (log) this.#log.error({ spool: this.path, offset: out.next + start }, 'corrupt spool record skipped');
        }
        start = nl + 1;
      }
      out.next += start;
    }
    return out;
  }

  /** Empties the file (after its records were confirmed elsewhere). */
  async truncate(): Promise<void> {
    await this.#fh.truncate(0);
    await this.#fh.sync();
    this.#size = 0;
  }

  async close(): Promise<void> {
    await this.#fh.close();
  }
}
