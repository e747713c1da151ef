/**
 * A set of keys seen within a time window, for dropping a message that
 * arrives again soon (the recorder gets each update on its broad, level and
 * specific channels). It holds what it needs and no more:
 *
 * - keys leave as soon as they are older than the window (checked on every
 *   call, oldest first: the set is in time order, so this costs O(expired));
 * - a flood inside the window is capped at `max` keys, the oldest forgotten
 *   first (at worst a duplicate then counts as new);
 * - the time is a monotonic clock (`performance.now()`), so a wall-clock step
 *   neither keeps keys for an hour nor forgets them early.
 *
 * Callers that would key by a large value (a whole message) key by its digest.
 */
/** Options of {@link RecentKeys}. */
export interface RecentKeysOptions {
  /** How long a key counts as recent, ms (> 0). */
  windowMs: number;
  /** Most keys held at once (≥ 1): past it the oldest is forgotten early. */
  max: number;
  /** A monotonic clock in ms. @defaultValue `performance.now` */
  now?: () => number;
  /** Called once for every key forgotten early because of `max` (a caller's counter). @defaultValue none */
  onEvict?: () => void;
}

export class RecentKeys {
  readonly #seen = new Map<string, number>();
  readonly #windowMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #onEvict: () => void;
  /** Keys forgotten early because of `max`. */
  evicted = 0;

  constructor(opts: RecentKeysOptions) {
    const { windowMs, max } = opts;
    if (!(windowMs > 0) || !(max >= 1)) throw new RangeError(`RecentKeys: window ${windowMs} ms, max ${max}`);
    this.#windowMs = windowMs;
    this.#max = Math.floor(max);
    this.#now = opts.now ?? (() => performance.now());
    this.#onEvict = opts.onEvict ?? (() => undefined);
  }

  /** True when `key` was seen within the window (a repeat); else remembers it and returns false. */
  seen(key: string): boolean {
    const now = this.#now();
    for (const [k, t] of this.#seen) {
      if (now - t < this.#windowMs) break;
      this.#seen.delete(k);
    }
    if (this.#seen.has(key)) return true;
    this.#seen.set(key, now);
    if (this.#seen.size > this.#max) {
      const oldest = this.#seen.keys().next().value!;
      this.#seen.delete(oldest);
      this.evicted++;
      this.#onEvict();
    }
    return false;
  }

  /** How many keys it holds now. */
  get size(): number {
    return this.#seen.size;
  }
}
