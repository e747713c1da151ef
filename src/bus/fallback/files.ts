import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.js';

/**
 * The file layout of the fabric fallback, under one root (by default
 * `<data dir>/fabric`). Every file is JSON, written atomically
 * (a temporary file in the same directory, then `rename`), and carries an
 * `expires_at` that readers honour. Names are `encodeURIComponent`-encoded
 * (and `.` as `%2E`), so an instance `host:worker:42` is one file name.
 *
 * ```
 * heartbeats/<instance>.json          { expires_at, info }
 * identities/<scope>/<id>.json        { expires_at, written_at, seq, op, fields, data }
 * admin/<instance>/<seq>.json         an AdminMessage (its own expires_at)
 * admin-replies/<message id>.json     { expires_at, reply }
 * ```
 *
 * `<seq>` is `<epoch ms, 15 digits>-<counter, 6 digits>-<pid>`: sorting the
 * names sorts the writes in time. A file being handled or replayed is first
 * renamed to `<name>.claimed.<epoch ms>` — only one process can win that
 * rename, which is what makes handling exactly-once; a claim older than
 * `staleClaimMs` (its claimer died) is put back by {@link FileStore.sweep}.
 */
export const FABRIC_LAYOUT = {
  heartbeats: 'heartbeats',
  identities: 'identities',
  admin: 'admin',
  replies: 'admin-replies',
} as const;

/** Where the fallback files live and how stale claims are recovered. */
export interface FileStoreOptions {
  /** The root directory, e.g. `<data dir>/fabric`. Required. */
  dir: string;
  /** @defaultValue 60000 — a claim older than this is given back (its claimer died mid-way). */
  staleClaimMs: number;
  /** @defaultValue `Date.now` */
  now: () => number;
}

export const FILE_STORE_DEFAULTS = {
  staleClaimMs: 60_000,
  now: Date.now,
} satisfies Partial<FileStoreOptions>;

/** One file taken for handling: remove it when done, or give it back. */
export interface Claimed<T> {
  /** The original name (a `<seq>` for queued files). */
  name: string;
  value: T | null;
  /** The raw text (null values included), for counting rejected files. */
  text: string;
  done(): Promise<void>;
  giveBack(): Promise<void>;
}

const CLAIM = '.claimed.';

export function encodeName(s: string): string {
  if (s === '') throw new ConfigError('a fallback file name must not be empty');
  return encodeURIComponent(s).replace(/\./g, '%2E');
}

export function decodeName(file: string): string {
  return decodeURIComponent(file.replace(/\.json$/, ''));
}

/** Low-level atomic JSON files with claims; the typed records are in `records.ts`. */
export class FileStore {
  readonly options: FileStoreOptions;
  #counter = 0;

  constructor(options: Partial<FileStoreOptions> & Pick<FileStoreOptions, 'dir'>) {
    const o = { ...FILE_STORE_DEFAULTS, ...options };
    if (!o.dir) throw new ConfigError('the fabric fallback directory must be set');
    if (!(o.staleClaimMs > 0)) throw new ConfigError(`staleClaimMs must be > 0, got ${o.staleClaimMs}`);
    this.options = { ...o, dir: path.resolve(o.dir) };
  }

  path(...parts: string[]): string {
    return path.join(this.options.dir, ...parts);
  }

  /** A name that sorts after every earlier one of this process (and, by time, of the others). */
  nextSeq(): string {
    const n = (this.#counter = (this.#counter + 1) % 1_000_000);
    return `${String(this.options.now()).padStart(15, '0')}-${String(n).padStart(6, '0')}-${process.pid}`;
  }

  /** Writes `value` as JSON to `file` atomically (temp file + fsync + rename). */
  async write(file: string, value: unknown): Promise<void> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = path.join(path.dirname(file), `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    const fh = await fs.open(tmp, 'wx', 0o640);
    try {
      await fh.writeFile(JSON.stringify(value));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  /** The parsed file, or `null` when missing or not JSON. */
  async read(file: string): Promise<unknown> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return parseJson(text);
  }

  async remove(file: string): Promise<void> {
    await fs.rm(file, { force: true });
  }

  /** The `.json` files of a directory (not claimed, not temporary), sorted by name. */
  async names(dir: string): Promise<string[]> {
    try {
      return (await fs.readdir(dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Sub-directories of `dir`, sorted. */
  async dirs(dir: string): Promise<string[]> {
    try {
      const ents = await fs.readdir(dir, { withFileTypes: true });
      return ents
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /**
   * Takes `dir/name` for this process by renaming it; `null` when another
   * process was first (or it is gone).
   */
  async claim<T>(dir: string, name: string, check: (v: unknown) => T | null): Promise<Claimed<T> | null> {
    const from = path.join(dir, name);
    const to = `${from}${CLAIM}${this.options.now()}`;
    try {
      await fs.rename(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const text = await fs.readFile(to, 'utf8');
    return {
      name: name.replace(/\.json$/, ''),
      value: check(parseJson(text)),
      text,
      done: () => fs.rm(to, { force: true }),
      giveBack: () => fs.rename(to, from).catch(() => undefined),
    };
  }

  /**
   * Walks the whole tree: removes the files `expired(value)` says are
   * expired (or not JSON), gives back stale claims, and removes temporary
   * files older than the stale-claim age. Returns how many files it removed.
   */
  async sweep(expired: (value: unknown, relative: string) => boolean): Promise<number> {
    let removed = 0;
    const now = this.options.now();
    const walk = async (dir: string): Promise<void> => {
      let ents;
      try {
        ents = await fs.readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of ents) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          await walk(p);
          continue;
        }
        const at = e.name.indexOf(CLAIM);
        if (at > 0) {
          const since = Number(e.name.slice(at + CLAIM.length));
          if (Number.isFinite(since) && now - since > this.options.staleClaimMs)
            await fs.rename(p, path.join(dir, e.name.slice(0, at))).catch(() => undefined);
          continue;
        }
        if (e.name.startsWith('.tmp-')) {
          const st = await fs.stat(p).catch(() => null);
          if (st && now - st.mtimeMs > this.options.staleClaimMs) {
            await fs.rm(p, { force: true });
            removed++;
          }
          continue;
        }
        if (!e.name.endsWith('.json')) continue;
        const v = await this.read(p).catch(() => null);
        if (v === null || expired(v, path.relative(this.options.dir, p))) {
          await fs.rm(p, { force: true });
          removed++;
        }
      }
    };
    await walk(this.options.dir);
    return removed;
  }
}

function parseJson(text: string): unknown {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}

/** Milliseconds left before an ISO `expires_at`; ≤ 0 when expired or unreadable. */
export function msLeft(expiresAt: unknown, now: number): number {
  if (typeof expiresAt !== 'string') return 0;
  const t = Date.parse(expiresAt);
  return Number.isFinite(t) ? t - now : 0;
}
