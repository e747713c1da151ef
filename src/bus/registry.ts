import type { Connection } from './connection.js';
import { ClosedError, ConfigError, ConnectionError } from './errors.js';
import type { FabricFiles } from './fallback/records.js';
import { escapeGlob } from './presence.js';

/** Where identities live and for how long. */
export interface RegistryOptions {
  /** @defaultValue `identity:` — records are `<prefix><scope>:<id>`. */
  prefix: string;
  /** @defaultValue 86400 (24 h) — TTL of each record, refreshed on every write. */
  ttlSeconds: number;
  /** @defaultValue 500 — SCAN COUNT hint. */
  scanCount: number;
  /**
   * Most records {@link Registry.list} returns (and holds in memory): ids come
   * from outside (CAN node numbers, relay users), so a scope can hold more.
   * @defaultValue 10000
   */
  maxList: number;
  /**
   * @defaultValue none — where records go while Redis is unreachable (or always, with
   * `useRedis: false`): `identities/<scope>/<id>.json`, replayed to Redis by
   * {@link replayIdentities} when it is back. Readers see those files too.
   */
  files: FabricFiles | undefined;
  /** @defaultValue true — `false` uses `files` only. */
  useRedis: boolean;
}

export const REGISTRY_DEFAULTS: RegistryOptions = {
  prefix: 'identity:',
  ttlSeconds: 86_400,
  scanCount: 500,
  maxList: 10_000,
  files: undefined,
  useRedis: true,
};

/** Redis refused or cannot be reached: the fallback files may take over. */
function unreachable(err: unknown): boolean {
  return err instanceof ConnectionError || err instanceof ClosedError;
}

/** One record as listed. */
export interface IdentityEntry<T = Record<string, unknown>> {
  scope: string;
  id: string;
  data: T;
}

/** Fields {@link Registry.touch} maintains on every record it writes. */
export interface SeenFields {
  /** ISO-8601 UTC of the first touch. */
  first_seen: string;
  /** ISO-8601 UTC of the latest touch. */
  last_seen: string;
  seen_count: number;
}

/**
 * A registry of identities: `identity:{scope}:{id}` strings holding JSON,
 * each with a TTL (24 h by default), listed by SCAN (never KEYS). Scopes
 * are free-form (`can-node`, `client`, …) but may not contain `:`; ids may.
 */
export class Registry {
  readonly options: RegistryOptions;
  readonly #conn: Connection;
  constructor(conn: Connection, options: Partial<RegistryOptions> = {}) {
    const o = { ...REGISTRY_DEFAULTS, ...options };
    if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds <= 0) {
      throw new ConfigError(`ttlSeconds must be a positive integer, got ${o.ttlSeconds}`);
    }
    if (!Number.isInteger(o.maxList) || o.maxList <= 0)
      throw new ConfigError(`maxList must be a positive integer, got ${o.maxList}`);
    if (!o.useRedis && !o.files) throw new ConfigError('useRedis: false needs files');
    this.options = o;
    this.#conn = conn;
  }

  key(scope: string, id: string): string {
    checkScope(scope);
    if (id === '') throw new ConfigError('identity id must not be empty');
    return `${this.options.prefix}${scope}:${id}`;
  }

  /**
   * Runs `fn` on Redis when it is used and reachable; `undefined` (after a
   * transient failure, or at once while reconnecting) when the files must
   * take over. Without files every error is thrown as before.
   */
  async #redis<T>(fn: () => Promise<T>): Promise<{ v: T } | undefined> {
    const files = this.options.files;
    if (!this.options.useRedis || (files && !this.#conn.isReady)) return undefined;
    try {
      return { v: await fn() };
    } catch (err) {
      if (files && unreachable(err)) return undefined;
      throw err;
    }
  }

  /** Replaces the record (JSON) and sets its TTL. */
  async write(scope: string, id: string, data: object): Promise<void> {
    const key = this.key(scope, id);
    const value = JSON.stringify(data);
    const done = await this.#redis(() =>
      this.#conn.run(`SET ${key}`, (c) =>
        c.set(key, value, { expiration: { type: 'EX', value: this.options.ttlSeconds } }),
      ),
    );
    if (!done) await this.options.files?.writeIdentity(scope, id, data, this.options.ttlSeconds);
  }

  /**
   * Merges `fields` into the record (other fields are kept), sets
   * `first_seen` (once), `last_seen` and `seen_count`, refreshes the TTL —
   * atomically, in one Lua call. Returns the record as it was before
   * (`null` when new), so a caller can notice changes (e.g. a node reboot).
   */
  async touch<T extends object>(
    scope: string,
    id: string,
    fields: T,
    now = new Date(),
  ): Promise<(T & SeenFields) | null> {
    const key = this.key(scope, id);
    const files = this.options.files;
    // A record still in the files (not yet replayed) is newer than Redis: keep merging there.
    const pending = files ? await files.readIdentity(scope, id) : null;
    const done = pending
      ? undefined
      : await this.#redis(() =>
          this.#conn.runScript(
            'identity-touch',
            [key],
            [JSON.stringify(fields), String(this.options.ttlSeconds), now.toISOString()],
          ),
        );
    if (done) return typeof done.v === 'string' ? (parse(done.v) as (T & SeenFields) | null) : null;
    const prev = await files?.touchIdentity(scope, id, fields, this.options.ttlSeconds, now);
    return (prev ?? null) as (T & SeenFields) | null;
  }

  /** The record, or `null` when missing (or not JSON). An unexpired fallback file wins (it is newer). */
  async read<T = Record<string, unknown>>(scope: string, id: string): Promise<T | null> {
    const key = this.key(scope, id);
    const pending = await this.options.files?.readIdentity(scope, id);
    if (pending) return pending.data as T;
    const got = await this.#redis(() => this.#conn.run(`GET ${key}`, (c) => c.get(key)));
    const raw = got?.v ?? null;
    return raw === null ? null : (parse(String(raw)) as T | null);
  }

  /** Deletes one record (in Redis and in the files); true when it existed. */
  async remove(scope: string, id: string): Promise<boolean> {
    const key = this.key(scope, id);
    const inFile = (await this.options.files?.removeIdentity(scope, id)) ?? false;
    const got = await this.#redis(() => this.#conn.run(`DEL ${key}`, (c) => c.del(key)));
    return inFile || (got?.v ?? 0) > 0;
  }

  /**
   * The records of a scope (SCAN + pipelined GET), sorted by id, at most
   * `maxList` of them. Records that are not JSON are left out.
   */
  async list<T = Record<string, unknown>>(scope: string): Promise<IdentityEntry<T>[]> {
    const byId = new Map<string, T>();
    const got = await this.#redis(async () => {
      const keys = await this.#scan(scope, this.options.maxList);
      return { keys, values: keys.length ? await this.#conn.run(`MGET ×${keys.length}`, (c) => c.mGet(keys)) : [] };
    });
    const head = `${this.options.prefix}${scope}:`;
    got?.v.keys.forEach((k, i) => {
      const raw = got.v.values[i];
      if (raw === null || raw === undefined) return;
      const data = parse(String(raw));
      if (data !== null) byId.set(k.slice(head.length), data as T);
    });
    if (this.options.files) {
      checkScope(scope);
      for (const { id, rec } of await this.options.files.listIdentities(scope)) byId.set(id, rec.data as T);
    }
    const out = [...byId].map(([id, data]) => ({ scope, id, data }));
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).slice(0, this.options.maxList);
  }

  /** The scopes that have records in Redis (SCAN over `<prefix>*`). */
  async scopes(): Promise<string[]> {
    const scopes = new Set<string>();
    const match = `${escapeGlob(this.options.prefix)}*`;
    await this.#conn.run(`SCAN ${match}`, async (c) => {
      for await (const batch of c.scanIterator({ MATCH: match, COUNT: this.options.scanCount })) {
        for (const k of batch) {
          const rest = String(k).slice(this.options.prefix.length);
          const at = rest.indexOf(':');
          if (at > 0) scopes.add(rest.slice(0, at));
        }
      }
    });
    return [...scopes].sort();
  }

  /**
   * Cleans a scope: deletes records that are not JSON and, with
   * `olderThanMs`, records whose `last_seen` is older than that (the TTL
   * removes the rest by itself). Returns the number deleted.
   */
  async cleanup(scope: string, opts: { olderThanMs?: number; now?: number } = {}): Promise<number> {
    const keys = await this.#scan(scope);
    if (keys.length === 0) return 0;
    const values = await this.#conn.run(`MGET ×${keys.length}`, (c) => c.mGet(keys));
    const now = opts.now ?? Date.now();
    const doomed: string[] = [];
    keys.forEach((k, i) => {
      const raw = values[i];
      if (raw === null || raw === undefined) return;
      const data = parse(String(raw)) as { last_seen?: unknown } | null;
      if (data === null) doomed.push(k);
      else if (opts.olderThanMs !== undefined && typeof data.last_seen === 'string') {
        const t = Date.parse(data.last_seen);
        if (Number.isFinite(t) && now - t > opts.olderThanMs) doomed.push(k);
      }
    });
    if (doomed.length === 0) return 0;
    return this.#conn.run(`DEL ×${doomed.length}`, (c) => c.del(doomed));
  }

  async #scan(scope: string, max = Number.POSITIVE_INFINITY): Promise<string[]> {
    checkScope(scope);
    const match = `${escapeGlob(`${this.options.prefix}${scope}:`)}*`;
    const keys = new Set<string>();
    await this.#conn.run(`SCAN ${match}`, async (c) => {
      for await (const batch of c.scanIterator({ MATCH: match, COUNT: this.options.scanCount })) {
        for (const k of batch) if (keys.size < max) keys.add(String(k));
        if (keys.size >= max) break;
      }
    });
    return [...keys];
  }
}

function checkScope(scope: string): void {
  if (scope === '' || scope.includes(':'))
    throw new ConfigError(`identity scope must be non-empty and contain no ':', got "${scope}"`);
}

function parse(text: string): unknown {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}
