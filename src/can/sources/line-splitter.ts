/**
 * Splits a byte stream into lines with a cap on the line length that is
 * applied BEFORE buffering: once a line passes `maxLineBytes`, its bytes are
 * dropped as they arrive (never held) until the next newline, and the line
 * is reported once as oversized. A 100 MB line without a newline costs at
 * most `maxLineBytes` of memory. `\r\n` endings are accepted.
 */
export class LineSplitter {
  #parts: Buffer[] = [];
  #length = 0;
  /** Bytes of the current line dropped so far (0 while it is within the cap). */
  #dropped = 0;

  constructor(
    readonly maxLineBytes: number,
    private readonly onLine: (line: string) => void,
    /** Called once per oversized line, with the bytes it had (at least maxLineBytes + 1) and its first bytes. */
    private readonly onOversized: (bytes: number, head: string) => void,
  ) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) throw new RangeError('maxLineBytes must be ≥ 1');
  }

  /** Feeds one chunk; calls back for every line it completes. */
  push(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    while (start < buf.length) {
      const nl = buf.indexOf(0x0a, start);
      const end = nl < 0 ? buf.length : nl;
      this.#take(buf, start, end);
      if (nl < 0) return;
      this.#finish();
      start = nl + 1;
    }
  }

  /** The input ended: a last line without a newline is still a line. */
  end(): void {
    if (this.#length > 0 || this.#dropped > 0) this.#finish();
  }

  #take(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n === 0) return;
    if (this.#dropped > 0) {
      this.#dropped += n;
      return;
    }
    if (this.#length + n > this.maxLineBytes) {
      // keep a short head for the report, drop the rest (and everything until the newline)
      const room = Math.max(0, Math.min(64 - this.#length, n));
      if (room > 0) this.#parts.push(buf.subarray(start, start + room));
      this.#dropped = this.#length + n;
      this.#length = Math.min(64, this.#length + room);
      return;
    }
    // copy: a subarray would keep the whole chunk alive
    this.#parts.push(Buffer.from(buf.subarray(start, end)));
    this.#length += n;
  }

  #finish(): void {
    const parts = this.#parts;
    const dropped = this.#dropped;
    this.#parts = [];
    this.#length = 0;
    this.#dropped = 0;
    const text = Buffer.concat(parts).toString('utf8');
    if (dropped > 0) {
      this.onOversized(dropped, text.slice(0, 64));
      return;
    }
    this.onLine(text.endsWith('\r') ? text.slice(0, -1) : text);
  }
}
