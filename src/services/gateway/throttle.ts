import type { BusLogger } from '../../bus/log.js';

/**
 * Warnings of one kind at most once per `intervalMs`, the next one carrying
 * how many were left out (`alsoSince`): a flood of bad clients must not
 * flood the log. Kinds are a fixed set of names chosen by the caller,
 * never outside input, so the map stays small.
 */
export class ThrottledWarn {
  readonly #last = new Map<string, { at: number; skipped: number }>();

  constructor(
    private readonly logger: BusLogger,
    private readonly intervalMs = 1000,
  ) {}

  warn(kind: string, obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const l = this.#last.get(kind);
    if (l && now - l.at < this.intervalMs) {
      l.skipped++;
      return;
    }
    this.#last.set(kind, { at: now, skipped: 0 });
    this.logger.warn(l && l.skipped > 0 ? { ...obj, alsoSince: l.skipped } : obj, msg);
  }
}
