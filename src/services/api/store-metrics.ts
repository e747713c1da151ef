import { Counter, Gauge, type Registry } from 'prom-client';
import type { ReadStatus } from '../../store/types.js';

/**
 * The store's read side on /metrics: where reads went (replica or primary),
 * how many the primary served in the replica's place, and — with a read
 * replica — whether it is up and how far behind the primary it is. One
 * probe per scrape, shared by every metric here.
 */
export class StoreReadMetrics {
  #scrape: Promise<ReadStatus | undefined> | undefined;

  /** @param status the store's read status (undefined: no store, or one that does not tell). */
  constructor(registry: Registry, status: () => Promise<ReadStatus | undefined>) {
    const read = () => (this.#scrape ??= status().catch(() => undefined));
    new Counter({
      name: 'canopy_store_reads_total',
      help: 'History, export and journal reads, by the server that served them (replica or primary)',
      labelNames: ['server'],
      registers: [registry],
      async collect() {
        const s = await read();
        this.reset();
        if (!s) return;
        this.inc({ server: 'primary' }, s.reads.primary);
        if (s.target === 'replica') this.inc({ server: 'replica' }, s.reads.replica);
      },
    });
    new Counter({
      name: 'canopy_store_read_fallbacks_total',
      help: 'Reads meant for the read replica that the primary served (replica down, or a read cancelled by replay)',
      registers: [registry],
      async collect() {
        const s = await read();
        this.reset();
        if (s) this.inc(s.fallbacks);
      },
    });
    new Gauge({
      name: 'canopy_store_replica_up',
      help: 'The read replica (DATABASE_READ_URL) answers: 1, or 0 while reads fall back to the primary',
      registers: [registry],
      async collect() {
        const s = await read();
        this.reset();
        if (s?.replica) this.set(s.replica.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'canopy_store_replica_lag_seconds',
      help: 'How far the read replica is behind the primary (0 when all it received is replayed)',
      registers: [registry],
      async collect() {
        const s = await read();
        this.reset();
        if (s?.replica?.lagMs !== null && s?.replica?.lagMs !== undefined) this.set(s.replica.lagMs / 1000);
      },
    });
  }

  /** Forgets the last probe (called once per scrape). */
  reset(): void {
    this.#scrape = undefined;
  }
}
