/**
 * Stream ids a writer gives its entries itself (`<ms>-<seq>`), before it
 * sends them. A batch whose XADD reply is lost (the primary died after
 * executing it) is then sent again under the same ids, so a reader that
 * stored it from the old primary recognises it instead of storing it twice.
 *
 * Ids only grow: the time part is the wall clock, held at the highest id
 * given or seen when the clock is behind it (a step back, or another writer
 * ahead of this one), the sequence counts within one millisecond.
 */
export class StreamIdClock {
  #ms = 0n;
  #seq = -1n;

  /** The next id, above every id given or {@link observe}d so far. */
  next(now: number = Date.now()): string {
    const ms = BigInt(Math.max(0, Math.floor(now)));
    if (ms > this.#ms) {
      this.#ms = ms;
      this.#seq = 0n;
    } else {
      this.#seq++;
    }
    return `${this.#ms}-${this.#seq}`;
  }

  /** Takes note of an id the stream holds (e.g. one Redis gave instead): later ids go above it. */
  observe(id: string): void {
    const m = /^(\d+)-(\d+)$/.exec(id);
    if (!m) return;
    const ms = BigInt(m[1] as string);
    const seq = BigInt(m[2] as string);
    if (ms > this.#ms || (ms === this.#ms && seq > this.#seq)) {
      this.#ms = ms;
      this.#seq = seq;
    }
  }
}
