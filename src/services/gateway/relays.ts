import type { RelaySession } from './session.js';

/**
 * The connected relays by user. Keys are authenticated users only (so at
 * most one per token) and each holds at most `maxConnectionsPerUser`
 * sessions (checked by the gateway before the upgrade): the table is
 * bounded by configuration, not by what clients send.
 */
export class RelayTable implements Iterable<RelaySession> {
  readonly #byUser = new Map<string, Set<RelaySession>>();

  add(s: RelaySession): void {
    let set = this.#byUser.get(s.user);
    if (!set) this.#byUser.set(s.user, (set = new Set()));
    set.add(s);
  }

  remove(s: RelaySession): void {
    const set = this.#byUser.get(s.user);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.#byUser.delete(s.user);
  }

  count(user: string): number {
    return this.#byUser.get(user)?.size ?? 0;
  }

  get size(): number {
    let n = 0;
    for (const set of this.#byUser.values()) n += set.size;
    return n;
  }

  /** A snapshot of one user's sessions (safe to close them while iterating). */
  forUser(user: string): RelaySession[] {
    return [...(this.#byUser.get(user) ?? [])];
  }

  /** A snapshot of every session. */
  [Symbol.iterator](): Iterator<RelaySession> {
    const all: RelaySession[] = [];
    for (const set of this.#byUser.values()) all.push(...set);
    return all[Symbol.iterator]();
  }
}
