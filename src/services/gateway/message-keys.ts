import { createHash } from 'node:crypto';

/**
 * Keys of back-channel messages for the idempotent backlog append
 * (`backlog-append.lua`): every gateway receives the same messages in the same
 * order (one PSUBSCRIBE each), so each computes the same key for one message,
 * and different keys for two. The contract has no message id, so the key is
 * a hash of user, kind and payload with its occurrence: the n-th copy of the
 * same bytes within `windowMs` of the previous one is `<hash>:<n>`, so a
 * message sent twice on purpose is kept twice.
 *
 * Limit: a gateway that starts (or resubscribes) between two identical copies
 * counts from 1 again; for that repeated message it hands its relays the id
 * of the earlier copy until the repetition pauses for `windowMs`. Messages
 * that differ (a timestamp, a sequence number) never meet this.
 */
export class MessageKeys {
  readonly #seen = new Map<string, { n: number; at: number }>();
  #prunedAt = 0;

  constructor(readonly windowMs: number) {}

  /** The key of the next message of `user`/`kind` with these bytes. */
  key(user: string, kind: string, payload: Uint8Array, now: number = Date.now()): string {
    const h = createHash('sha1').update(user).update('\0').update(kind).update('\0').update(payload);
    const hash = h.digest('base64url').slice(0, 22);
    const prev = this.#seen.get(hash);
    const n = prev && now - prev.at < this.windowMs ? prev.n + 1 : 1;
    this.#seen.set(hash, { n, at: now });
    if (now - this.#prunedAt > this.windowMs / 2) this.#prune(now);
    return `${hash}:${n}`;
  }

  /** Messages remembered (at most those of one window). */
  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    this.#prunedAt = now;
    for (const [k, v] of this.#seen) if (now - v.at >= this.windowMs) this.#seen.delete(k);
  }
}
