import type { Connection } from './connection.js';
import { ConfigError } from './errors.js';

/** Where live values live and how long they stay. */
export interface LiveStateOptions {
  /**
   * Prepended to every name: the value key is `<prefix><name>`, its time
   * key `<prefix><name>:ts`. The bus is domain-free; the pipeline passes `sensor:`.
   * @defaultValue `''`
   */
  prefix: string;
  /** @defaultValue 10 — TTL of both keys, in seconds (a value older than that is gone, not stale). */
  ttlSeconds: number;
}

export const LIVE_STATE_DEFAULTS: LiveStateOptions = { prefix: '', ttlSeconds: 10 };

/** One value to write. */
export interface LiveValue {
  name: string;
  /** Written as text: numbers with `String(n)` (e.g. `23.55`). */
  value: string | number;
  /** @defaultValue `Date.now()` — unix ms, written to the `:ts` key. */
  tsMs?: number;
}

/** One value read back; every field null when the key is missing (expired or never written). */
export interface LiveReading {
  name: string;
  value: string | null;
  /** Unix ms from the `:ts` key. */
  ts: number | null;
  /** `now - ts`, in ms. */
  ageMs: number | null;
}

/**
 * Live state keys: the latest value of many named things, each a pair of
 * string keys with a TTL, as `redis-cli GET sensor:dry_bulb_f` shows them.
 */
export class LiveState {
  readonly options: LiveStateOptions;
  readonly #conn: Connection;

  constructor(conn: Connection, options: Partial<LiveStateOptions> = {}) {
    const o = { ...LIVE_STATE_DEFAULTS, ...options };
    if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds <= 0) {
      throw new ConfigError(`ttlSeconds must be a positive integer, got ${o.ttlSeconds}`);
    }
    this.options = o;
    this.#conn = conn;
  }

  /** The value key of a name. */
  key(name: string): string {
    return `${this.options.prefix}${name}`;
  }

  /** Writes every value and its time (both with the TTL) in one pipeline. */
  async write(values: ReadonlyArray<LiveValue>): Promise<void> {
    if (values.length === 0) return;
    const ttl = this.options.ttlSeconds;
    const now = Date.now();
    await this.#conn.run(`live state write ×${values.length}`, async (c) => {
      const multi = c.multi();
      for (const v of values) {
        const key = this.key(v.name);
        multi.set(key, String(v.value), { expiration: { type: 'EX', value: ttl } });
        multi.set(`${key}:ts`, String(v.tsMs ?? now), { expiration: { type: 'EX', value: ttl } });
      }
      await multi.execAsPipeline();
    });
  }

  /** Reads many names at once (one MGET); order follows `names`. */
  async read(names: ReadonlyArray<string>): Promise<LiveReading[]> {
    if (names.length === 0) return [];
    const keys: string[] = [];
    for (const n of names) keys.push(this.key(n), `${this.key(n)}:ts`);
    const raw = await this.#conn.run(`MGET ×${names.length}`, (c) => c.mGet(keys));
    const now = Date.now();
    return names.map((name, i) => {
      const value = raw[2 * i] ?? null;
      const tsText = raw[2 * i + 1] ?? null;
      const ts = tsText === null || value === null ? null : Number(tsText);
      const valid = ts !== null && Number.isFinite(ts);
      return {
        name,
        value: value === null ? null : String(value),
        ts: valid ? ts : null,
        ageMs: valid ? now - ts : null,
      };
    });
  }

  /** One name; see {@link read}. */
  async readOne(name: string): Promise<LiveReading> {
    const [r] = await this.read([name]);
    return r as LiveReading;
  }
}
