import type { WebSocket } from 'ws';
import type { UserCodec, UserCodecName } from '../../contracts/user-channels.js';
import { CLOSE, compareStreamIds, type DeliverFrame, type ServerFrame } from '../../gateway-protocol/index.js';
import type { BackMessage } from './hub.js';

/** Counters of one relay connection. */
export interface SessionStats {
  received: number;
  published: number;
  /** Messages Redis did not take (timeout, connection down). */
  unpublished: number;
  rejected: number;
  delivered: number;
  replayed: number;
}

/** A token bucket: `rate` per second sustained, `burst` at once. */
export class RateLimiter {
  #tokens: number;
  #last: number;
  constructor(
    readonly rate: number,
    readonly burst: number,
    readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = burst;
    this.#last = now();
  }

  take(): boolean {
    const t = this.now();
    // above the burst only after a credit (see below): spend that before refilling
    if (this.#tokens < this.burst) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#last) * this.rate) / 1000);
    }
    this.#last = t;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * Allows what the relay sent at its rate during `ms` in which the gateway
   * did not read (backpressure), so the backlog it then reads at once is not
   * taken for a flood.
   */
  credit(ms: number): void {
    this.#tokens += (ms * this.rate) / 1000;
  }
}

/**
 * One connected relay: its outgoing encoding, rate limiter, delivery state
 * (replaying the backlog, then live) and the bound on what may wait in its
 * socket. Sending never waits for the relay: a relay that lets more than
 * `maxBufferedBytes` pile up is closed (it resumes from the backlog).
 */
export class RelaySession {
  readonly stats: SessionStats = {
    received: 0,
    published: 0,
    unpublished: 0,
    rejected: 0,
    delivered: 0,
    replayed: 0,
  };
  readonly limiter: RateLimiter;
  /** Answered the last ping (the gateway drops relays that miss one). */
  alive = true;
  /** Closed because it fell behind. */
  slow = false;
  #replaying: boolean;
  #pending: BackMessage[] = [];
  #lastId: string | undefined;
  #closing = false;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly user: string,
    readonly ws: WebSocket,
    readonly codecName: UserCodecName,
    readonly codec: UserCodec,
    readonly limits: { ratePerSecond: number; rateBurst: number; maxBufferedBytes: number; maxPending: number },
    resumeFrom: string | undefined,
  ) {
    this.limiter = new RateLimiter(limits.ratePerSecond, limits.rateBurst);
    this.#replaying = resumeFrom !== undefined;
    this.#lastId = resumeFrom;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** The id of the last message delivered (or the resume point). */
  get lastId(): string | undefined {
    return this.#lastId;
  }

  /** Sends one frame unless the relay is too far behind. */
  send(frame: ServerFrame): boolean {
    if (this.#closing || this.ws.readyState !== this.ws.OPEN) return false;
    if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.slow = true;
      this.close(
        CLOSE.policy,
        `too slow: more than ${this.limits.maxBufferedBytes} bytes waiting; reconnect with resume to get the rest`,
      );
      return false;
    }
    this.ws.send(this.codec.encode(frame, this.codecName), { binary: this.codecName === 'msgpack' });
    return true;
  }

  /** A live back-channel message: sent now, or queued while the backlog replays. */
  deliver(m: BackMessage): void {
    if (this.#replaying) {
      if (this.#pending.length >= this.limits.maxPending) {
        this.slow = true;
        this.close(CLOSE.policy, 'too slow: backlog replay did not finish; reconnect with resume');
        return;
      }
      this.#pending.push(m);
      return;
    }
    this.#send(m, false);
  }

  /**
   * Sends the replayed backlog, then what arrived meanwhile (each message
   * once), then goes live. When the backlog was `truncated` (more follows
   * than one replay reads), it sends what it has and closes instead: live
   * messages now would skip the rest, which the relay gets by resuming.
   */
  finishReplay(backlog: readonly BackMessage[], truncated = false): void {
    for (const m of backlog) this.#send(m, true);
    if (truncated) {
      this.close(CLOSE.policy, 'backlog continues: reconnect with resume to get the rest');
      return;
    }
    const pending = this.#pending;
    this.#pending = [];
    this.#replaying = false;
    for (const m of pending) this.#send(m, false);
  }

  #send(m: BackMessage, replay: boolean): void {
    if (m.id !== null && this.#lastId !== undefined && compareStreamIds(m.id, this.#lastId) <= 0) return;
    const frame: DeliverFrame = { type: 'deliver', kind: m.kind, id: m.id, message: m.message };
    if (!this.send(frame)) return;
    if (m.id !== null) this.#lastId = m.id;
    if (replay) this.stats.replayed++;
    else this.stats.delivered++;
  }

  /** Closes with a code and reason; terminates the socket if the relay does not answer the close. */
  close(code: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#pending = [];
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      this.ws.terminate();
    }
    this.#killTimer = setTimeout(() => this.ws.terminate(), 2000);
    this.#killTimer.unref();
  }

  #unpublished = 0;
  #unpublishedTimer: NodeJS.Timeout | undefined;

  /**
   * A message Redis did not take. The relay hears about it at most once a
   * second (an error frame per message would only add to an overload).
   */
  unpublished(): void {
    this.stats.unpublished++;
    if (this.#unpublished++ > 0) return;
    this.send({ type: 'error', code: 'unavailable', error: 'Redis unavailable: message not published' });
    this.#unpublishedTimer = setTimeout(() => {
      const n = this.#unpublished - 1;
      this.#unpublished = 0;
      if (n > 0)
        this.send({ type: 'error', code: 'unavailable', error: `Redis unavailable: ${n} more messages not published` });
    }, 1000);
    this.#unpublishedTimer.unref();
  }

  /** Called when the socket is gone. */
  closed(): void {
    this.#closing = true;
    clearTimeout(this.#killTimer);
    clearTimeout(this.#unpublishedTimer);
    this.#pending = [];
  }
}
