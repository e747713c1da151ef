/**
 * Prepared statements, kept. better-sqlite3 finalizes a statement only when
 * its JavaScript object is garbage-collected, and V8 does not see the native
 * memory behind it: statements prepared per call (the worker's six per batch,
 * every ping and query) pile up in malloc's main arena between collections
 * (a loop of small transactions: 34 MB against 13 MB kept; a soak of
 * `canopy up --compact` grew the same with or without, see
 * docs/benchmarks.md). Kept statements are also not parsed and planned again
 * (about 15 % more small batches per second).
 *
 * Bounded (least recently used first out): callers also run generated SQL (an
 * `IN (?, ?, …)` per list length). A kept statement is for synchronous use
 * (`run`, `get`, `all`); one to iterate gets its own `prepare` on its connection.
 */
import type Database from 'better-sqlite3';

export class StatementCache {
  readonly #db: Database.Database;
  readonly #max: number;
  readonly #kept = new Map<string, Database.Statement>();

  /** @param max statements kept. @defaultValue 128 */
  constructor(db: Database.Database, max = 128) {
    this.#db = db;
    this.#max = max;
  }

  /** The statement for `sql`, prepared on first use. */
  prepare(sql: string): Database.Statement {
    const hit = this.#kept.get(sql);
    if (hit) {
      this.#kept.delete(sql);
      this.#kept.set(sql, hit);
      return hit;
    }
    const st = this.#db.prepare(sql);
    this.#kept.set(sql, st);
    if (this.#kept.size > this.#max) this.#kept.delete(this.#kept.keys().next().value!);
    return st;
  }

  /** How many statements are kept. */
  get size(): number {
    return this.#kept.size;
  }
}
