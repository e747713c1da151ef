import os from 'node:os';
import type { Connection } from '../../bus/connection.js';
import type { Logger } from '../../util/log.js';
import { describeHolder, holderAlive, RelayBusLockedError, type BusHolder } from './lock.js';

export interface LeaseOptions {
  /** The lease key, e.g. `automation:lease:i2c-1`. */
  key: string;
  /** @defaultValue 15000 — the lease expires this long after the last refresh, ms. */
  ttlMs: number;
}

/**
 * A Redis lease on a relay bus (`SET key holder NX PX ttl`, refreshed every
 * third of its ttl) naming its holder, so that a second `canopy automation`
 * for the same bus — from another data directory or another host on the
 * same Redis — refuses to start, and anyone can see who controls the bus.
 * A lease left by a holder on this host that is no longer running (killed,
 * restarted by systemd) is taken over at once. The automation ACL allows
 * no scripts, so a refresh is GET + PEXPIRE (a lease that expired in
 * between is re-taken with SET NX); a lease found in another holder's hands
 * is reported ({@link conflicts}) — the file lock is what guarantees
 * exclusivity on one machine.
 */
export class RelayBusLease {
  readonly #conn: Connection;
  readonly #o: LeaseOptions;
  readonly #value: string;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #conflicts = 0;
  #closed = false;

  private constructor(conn: Connection, o: LeaseOptions, holder: BusHolder, log: Logger) {
    this.#conn = conn;
    this.#o = o;
    this.#value = JSON.stringify(holder);
    this.#log = log;
  }

  /** Takes the lease or throws {@link RelayBusLockedError} naming the holder. */
  static async acquire(conn: Connection, o: LeaseOptions, holder: BusHolder, log: Logger): Promise<RelayBusLease> {
    const lease = new RelayBusLease(conn, o, holder, log);
    await lease.#take(holder);
    lease.#timer = setInterval(() => void lease.#refresh(), Math.max(50, Math.floor(o.ttlMs / 3)));
    lease.#timer.unref();
    return lease;
  }

  /** How often the lease was found held by someone else while running. */
  get conflicts(): number {
    return this.#conflicts;
  }

  async #take(me: BusHolder): Promise<void> {
    const { key, ttlMs } = this.#o;
    for (let attempt = 0; attempt < 3; attempt++) {
      const ok = await this.#conn.run(`SET ${key} NX`, (c) =>
        c.set(key, this.#value, { condition: 'NX', expiration: { type: 'PX', value: ttlMs } }),
      );
      if (ok === 'OK') return;
      const raw = await this.#conn.run(`GET ${key}`, (c) => c.get(key));
      if (raw === null) continue; // expired meanwhile
      let other: BusHolder | null;
      try {
        other = JSON.parse(raw) as BusHolder;
      } catch {
        other = null;
      }
      if (other && other.pid === me.pid && other.host === me.host && other.since === me.since) return;
      if (other && !(other.host === os.hostname() && !holderAlive(other)))
        throw new RelayBusLockedError(
          `relay bus ${me.bus} is already controlled by canopy automation ${describeHolder(other)} (Redis lease ${key}, expires ${ttlMs} ms after its holder stops); stop that one first`,
          other,
        );
      // a holder on this host that no longer runs (or garbage): take it over
      this.#log.warn({ key, previous: raw }, 'relay bus lease of a process that is gone: taken over');
      await this.#conn.run(`SET ${key}`, (c) => c.set(key, this.#value, { expiration: { type: 'PX', value: ttlMs } }));
      return;
    }
  }

  async #refresh(): Promise<void> {
    if (this.#closed) return;
    const { key, ttlMs } = this.#o;
    try {
      const raw = await this.#conn.run(`GET ${key}`, (c) => c.get(key));
      if (raw === this.#value) {
        await this.#conn.run(`PEXPIRE ${key}`, (c) => c.pExpire(key, ttlMs));
      } else if (raw === null) {
        const ok = await this.#conn.run(`SET ${key} NX`, (c) =>
          c.set(key, this.#value, { condition: 'NX', expiration: { type: 'PX', value: ttlMs } }),
        );
        if (ok !== 'OK') this.#conflict();
      } else this.#conflict(raw);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'relay bus lease not refreshed (Redis unreachable?)');
    }
  }

  #conflict(raw?: string): void {
    this.#conflicts++;
    this.#log.error({ key: this.#o.key, holder: raw }, 'another automation holds the Redis lease of this relay bus');
  }

  /** Stops refreshing and deletes the lease if it is still ours. */
  async release(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    const key = this.#o.key;
    try {
      const raw = await this.#conn.run(`GET ${key}`, (c) => c.get(key));
      if (raw === this.#value) await this.#conn.run(`DEL ${key}`, (c) => c.del(key));
    } catch {
      // expires by itself
    }
  }
}
