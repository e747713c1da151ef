import type { Connection } from './connection.js';
import { ReplyError } from './errors.js';
import type { BusLogger } from './log.js';

/** How often `waitReplicas: 'auto'` counts the primary's replicas again, ms. */
const AUTO_RECHECK_MS = 10_000;

/** What {@link ReplicaWait} needs (a subset of the spooled writer's options). */
export interface ReplicaWaitOptions {
  stream: string;
  /** A number, or `auto`: 1 when the primary has connected replicas, else 0. */
  waitReplicas: number | 'auto';
  waitTimeoutMs: number;
  logger: BusLogger;
}

/**
 * `WAIT n timeout` after a write, with `n` settled from the options: fixed,
 * or (`auto`) 1 while the primary has a connected replica — counted when
 * {@link refresh} is called (attach, a switch of primary), after an
 * unconfirmed WAIT and every 10 s.
 */
export class ReplicaWait {
  readonly #o: ReplicaWaitOptions;
  #n = 0;
  #checkedAt = -Infinity;
  #refused = false;

  constructor(o: ReplicaWaitOptions) {
    this.#o = o;
    this.#n = o.waitReplicas === 'auto' ? 0 : o.waitReplicas;
  }

  /** Replicas each write waits for now. */
  get replicas(): number {
    return this.#n;
  }

  /** Counts the primary's replicas again (`auto`). */
  async refresh(conn: Connection): Promise<void> {
    const o = this.#o;
    this.#checkedAt = performance.now();
    if (this.#refused) return;
    const n = o.waitReplicas === 'auto' ? Math.min(1, await conn.connectedReplicas()) : o.waitReplicas;
    if (n !== this.#n) {
      o.logger.info({ stream: o.stream, waitReplicas: n }, 'stream writes wait for replicas');
      this.#n = n;
    }
  }

  /**
   * True when enough replicas confirmed what this connection wrote (or none
   * is asked for). A refusal of WAIT itself (an ACL without it) stops the
   * waiting for good, logged: writes are then as durable as the primary.
   * Transport errors are thrown.
   */
  async confirmed(conn: Connection): Promise<boolean> {
    const o = this.#o;
    if (o.waitReplicas === 'auto' && performance.now() - this.#checkedAt > AUTO_RECHECK_MS) await this.refresh(conn);
    const n = this.#n;
    if (n <= 0) return true;
    let got: number;
    try {
      got = Number(
        await conn.run('WAIT', (c) => c.sendCommand(['WAIT', String(n), String(o.waitTimeoutMs)]), {
          timeoutMs: o.waitTimeoutMs + conn.options.commandTimeoutMs,
        }),
      );
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
      this.#refused = true;
      this.#n = 0;
      o.logger.error({ stream: o.stream, err: err.message }, 'WAIT refused; stream writes no longer wait for replicas');
      return true;
    }
    if (got >= n) return true;
    if (o.waitReplicas === 'auto') await this.refresh(conn); // the replica may have gone
    return false;
  }
}
