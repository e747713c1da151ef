import type { Connection } from '../connection.js';
import { ConfigError, PermissionError } from '../errors.js';
import type { BusLogger } from '../log.js';
import { silentLogger } from '../log.js';
import type { Registry } from '../registry.js';
import type { FabricFiles } from './records.js';
import { replayIdentities } from './replay.js';

/** How the fabric keeps itself clean, and who does it. */
export interface FabricJanitorOptions {
  /** This process's name, stored in the lease. Required. */
  instance: string;
  /** @defaultValue 600000 (10 min) — time between two rounds. */
  intervalMs: number;
  /** @defaultValue `lease:identity-cleanup` — the `SET NX PX` key that elects the cleaner. */
  leaseKey: string;
  /** @defaultValue 3 × intervalMs (derived) — a dead leader is replaced after this long. */
  leaseMs: number;
  /**
   * @defaultValue 7 days — identities whose `last_seen` is older are deleted by the
   * elected cleaner (records that are not JSON always are); 0 leaves that to the TTL.
   */
  identityMaxAgeMs: number;
  /** @defaultValue every scope found in Redis */
  scopes: string[] | undefined;
  /** @defaultValue silent */
  logger: BusLogger;
}

export const FABRIC_JANITOR_DEFAULTS = {
  intervalMs: 600_000,
  leaseKey: 'lease:identity-cleanup',
  identityMaxAgeMs: 7 * 86_400_000,
  scopes: undefined,
  logger: silentLogger,
} satisfies Partial<FabricJanitorOptions>;

export interface JanitorStats {
  rounds: number;
  /** Rounds this process ran the identity cleanup as the elected cleaner. */
  ledRounds: number;
  identitiesRemoved: number;
  identitiesReplayed: number;
  filesRemoved: number;
  errors: number;
}

/**
 * One round every `intervalMs` in every process, doing:
 * - the fallback files: expired ones removed, stale claims given back (any process);
 * - while Redis is reachable: identity files replayed to Redis (any process; claims
 *   keep it exactly-once);
 * - the identity cleanup (`Registry.cleanup` for every scope) only in the process
 *   that holds the lease (`SET leaseKey instance NX PX leaseMs`, renewed by its holder).
 */
export class FabricJanitor {
  readonly options: FabricJanitorOptions;
  readonly #conn: Connection;
  readonly #registry: Registry;
  readonly #files: FabricFiles | undefined;
  readonly #stats: JanitorStats = {
    rounds: 0,
    ledRounds: 0,
    identitiesRemoved: 0,
    identitiesReplayed: 0,
    filesRemoved: 0,
    errors: 0,
  };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #leader = false;
  /** Cleared when the ACL refuses the lease: this process leaves the cleanup to the others. */
  #mayLead = true;
  #closed = false;

  constructor(
    conn: Connection,
    registry: Registry,
    files: FabricFiles | undefined,
    options: Partial<FabricJanitorOptions> & Pick<FabricJanitorOptions, 'instance'>,
  ) {
    const base = { ...FABRIC_JANITOR_DEFAULTS, ...options };
    const o: FabricJanitorOptions = { leaseMs: base.intervalMs * 3, ...base };
    if (!o.instance) throw new ConfigError('instance must not be empty');
    if (!(o.intervalMs > 0) || !(o.leaseMs > o.intervalMs))
      throw new ConfigError('intervalMs must be > 0 and leaseMs above it');
    if (!(o.identityMaxAgeMs >= 0)) throw new ConfigError('identityMaxAgeMs must be >= 0');
    this.options = o;
    this.#conn = conn;
    this.#registry = registry;
    this.#files = files;
  }

  get stats(): JanitorStats {
    return { ...this.#stats };
  }

  /** Whether this process held the lease at its last round. */
  get leader(): boolean {
    return this.#leader;
  }

  /** Runs a round now and then every `intervalMs`. */
  start(): void {
    void this.round();
    this.#timer = setInterval(() => void this.round(), this.options.intervalMs);
    this.#timer.unref();
  }

  /** One round (rounds never overlap; errors are counted and logged). */
  round(): Promise<void> {
    if (this.#running) return this.#running;
    this.#running = this.#round().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Replays the identity files now (after a reconnect). */
  async replay(): Promise<number> {
    if (!this.#files || !this.#conn.isReady || !this.#registry.options.useRedis) return 0;
    const n = await replayIdentities(this.#conn, this.#files, {
      prefix: this.#registry.options.prefix,
      logger: this.options.logger,
    });
    this.#stats.identitiesReplayed += n;
    return n;
  }

  async #round(): Promise<void> {
    if (this.#closed) return;
    const log = this.options.logger;
    this.#stats.rounds++;
    try {
      if (this.#files) this.#stats.filesRemoved += await this.#files.sweep();
      await this.replay();
      if (!this.#conn.isReady || !this.#registry.options.useRedis || !this.#mayLead) return;
      this.#leader = await this.#acquire();
      if (!this.#leader) return;
      this.#stats.ledRounds++;
      const scopes = this.options.scopes ?? (await this.#registry.scopes());
      let removed = 0;
      for (const scope of scopes) {
        removed += await this.#registry.cleanup(scope, {
          ...(this.options.identityMaxAgeMs > 0 ? { olderThanMs: this.options.identityMaxAgeMs } : {}),
        });
      }
      this.#stats.identitiesRemoved += removed;
      log.info({ scopes: scopes.length, removed }, 'identity cleanup done (elected cleaner)');
    } catch (err) {
      if (err instanceof PermissionError && !this.#leader) {
        // a least-privilege ACL user without identity writes: not a candidate
        this.#mayLead = false;
        log.info(
          { err: err.message },
          'not allowed to run the identity cleanup; left to services that write identities',
        );
        return;
      }
      this.#stats.errors++;
      log.warn({ err: (err as Error).message }, 'fabric janitor round failed');
    }
  }

  async #acquire(): Promise<boolean> {
    const { leaseKey, instance, leaseMs } = this.options;
    const got = await this.#conn.run(`SET ${leaseKey} NX`, (c) =>
      c.set(leaseKey, instance, { condition: 'NX', expiration: { type: 'PX', value: leaseMs } }),
    );
    if (got === 'OK') return true;
    return Number(await this.#conn.runScript('lease-renew', [leaseKey], [instance, String(leaseMs)])) === 1;
  }

  /** Stops the rounds and gives the lease up (so another process takes over at its next round). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
    if (this.#leader && this.#conn.isReady) {
      await this.#conn
        .runScript('lease-release', [this.options.leaseKey], [this.options.instance])
        .catch(() => undefined);
    }
  }
}
