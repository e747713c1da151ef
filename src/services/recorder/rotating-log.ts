import fs from 'node:fs';
import path from 'node:path';

export interface RotatingLogOptions {
  /** Directory of the files. Required. */
  dir: string;
  /** File name stem: files are `<name>-YYYY-MM-DD[.n].jsonl`. Required. */
  name: string;
  /** @defaultValue 64 MiB */
  maxFileBytes: number;
  /** @defaultValue 14 — older files (by their date) are deleted at each rotation. */
  retentionDays: number;
  /** @defaultValue `Date.now` */
  now: () => number;
}

/** Local calendar date `YYYY-MM-DD`. */
function localDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/**
 * JSON lines appended to a file that rotates at local midnight and when it
 * would exceed `maxFileBytes` (`.1`, `.2`, … suffixes); files past the
 * retention are deleted. Writes are buffered by a write stream; {@link flush}
 * waits for them.
 */
export class RotatingLog {
  readonly options: RotatingLogOptions;
  #stream: fs.WriteStream | undefined;
  #date = '';
  #part = 0;
  #bytes = 0;
  #file = '';
  /** Files rotated away from whose last writes may still be on their way to the disk. */
  readonly #ending = new Set<Promise<void>>();

  constructor(options: Partial<RotatingLogOptions> & Pick<RotatingLogOptions, 'dir' | 'name'>) {
    this.options = { maxFileBytes: 64 * 1024 * 1024, retentionDays: 14, now: Date.now, ...options };
  }

  /** The file being written. */
  get file(): string {
    return this.#file;
  }

  write(record: unknown): void {
    const line = `${JSON.stringify(record)}\n`;
    const size = Buffer.byteLength(line);
    const date = localDate(this.options.now());
    if (!this.#stream || date !== this.#date) this.#open(date, 0);
    else if (this.#bytes > 0 && this.#bytes + size > this.options.maxFileBytes) this.#open(date, this.#part + 1);
    (this.#stream as fs.WriteStream).write(line);
    this.#bytes += size;
  }

  /** Resolves once everything written so far reached the files (rotated ones included). */
  async flush(): Promise<void> {
    const s = this.#stream;
    await Promise.all([...this.#ending]);
    if (s) await new Promise<void>((resolve) => s.write('', () => resolve()));
  }

  /** Ends every file, the rotated ones included, once their writes reached the disk. */
  async close(): Promise<void> {
    const s = this.#stream;
    this.#stream = undefined;
    if (s) this.#end(s);
    await Promise.all([...this.#ending]);
  }

  #end(s: fs.WriteStream): void {
    const done = new Promise<void>((resolve) => s.end(() => resolve()));
    this.#ending.add(done);
    void done.then(() => this.#ending.delete(done));
  }

  #open(date: string, part: number): void {
    if (this.#stream) this.#end(this.#stream);
    let p = part;
    let file: string;
    // continue after the parts an earlier run left for the same day
    for (;;) {
      file = path.join(this.options.dir, `${this.options.name}-${date}${p > 0 ? `.${p}` : ''}.jsonl`);
      const size = fs.existsSync(file) ? fs.statSync(file).size : 0;
      if (size < this.options.maxFileBytes) {
        this.#bytes = size;
        break;
      }
      p++;
    }
    this.#date = date;
    this.#part = p;
    this.#file = file;
    this.#stream = fs.createWriteStream(file, { flags: 'a', mode: 0o640 });
    this.#prune();
  }

  #prune(): void {
    const cutoff = localDate(this.options.now() - this.options.retentionDays * 86_400_000);
    const re = new RegExp(`^${this.options.name}-(\\d{4}-\\d{2}-\\d{2})(\\.\\d+)?\\.jsonl$`);
    for (const f of fs.readdirSync(this.options.dir)) {
      const m = re.exec(f);
      if (m && (m[1] as string) < cutoff) fs.rmSync(path.join(this.options.dir, f), { force: true });
    }
  }
}
