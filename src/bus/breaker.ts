import { EventEmitter } from 'node:events';
import { ConfigError } from './errors.js';
import type { BusLogger } from './log.js';
import { silentLogger } from './log.js';
import { backoffDelay } from './options.js';

/** `closed`: calls go through. `open`: calls are refused. `half-open`: one probe is let through. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** When a {@link CircuitBreaker} opens and how it probes. */
export interface BreakerOptions {
  /** @defaultValue `redis` — named in every log line. */
  name: string;
  /** @defaultValue 3 — consecutive failures that open the breaker. */
  failureThreshold: number;
  /** @defaultValue 1000 — time open before the first half-open probe; doubles after each failed probe. */
  openBaseMs: number;
  /** @defaultValue 30000 — ceiling of the open time. */
  openMaxMs: number;
  /** @defaultValue silent — state changes are logged at warn (open) and info (half-open, closed). */
  logger: BusLogger;
  /** @defaultValue `Date.now` */
  now: () => number;
}

export const BREAKER_DEFAULTS: BreakerOptions = {
  name: 'redis',
  failureThreshold: 3,
  openBaseMs: 1000,
  openMaxMs: 30_000,
  logger: silentLogger,
  now: Date.now,
};

export interface BreakerEvents {
  state: [to: BreakerState, from: BreakerState, reason: string];
}

/**
 * A circuit breaker: after `failureThreshold` consecutive failures it opens
 * and refuses calls; after the open time one probe is allowed (half-open);
 * a successful probe closes it, a failed one opens it again for longer
 * (exponential backoff with jitter). Every state change is logged and
 * emitted as `state`.
 */
export class CircuitBreaker extends EventEmitter<BreakerEvents> {
  readonly options: BreakerOptions;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedTimes = 0;
  #retryAt = 0;
  #probing = false;
  #transitions = 0;

  constructor(options: Partial<BreakerOptions> = {}) {
    super();
    const o = { ...BREAKER_DEFAULTS, ...options };
    if (!Number.isInteger(o.failureThreshold) || o.failureThreshold < 1) {
      throw new ConfigError(`failureThreshold must be a positive integer, got ${o.failureThreshold}`);
    }
    if (!(o.openBaseMs > 0) || !(o.openMaxMs >= o.openBaseMs)) {
      throw new ConfigError('openBaseMs must be > 0 and openMaxMs >= openBaseMs');
    }
    this.options = o;
  }

  get state(): BreakerState {
    if (this.#state === 'open' && this.options.now() >= this.#retryAt) this.#set('half-open', 'open time elapsed');
    return this.#state;
  }

  /** Consecutive failures so far. */
  get failures(): number {
    return this.#failures;
  }

  /** Number of state changes since creation. */
  get transitions(): number {
    return this.#transitions;
  }

  /** Milliseconds until the next probe is allowed (0 when calls may go now). */
  get retryInMs(): number {
    return this.state === 'open' ? Math.max(0, this.#retryAt - this.options.now()) : 0;
  }

  /**
   * Whether a call may go now. In half-open state only one caller gets
   * `true` until it reports {@link success} or {@link failure}.
   */
  allow(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'open') return false;
    if (this.#probing) return false;
    this.#probing = true;
    return true;
  }

  success(): void {
    this.#failures = 0;
    this.#probing = false;
    if (this.#state !== 'closed') {
      this.#openedTimes = 0;
      this.#set('closed', 'call succeeded');
    }
  }

  failure(err?: unknown): void {
    this.#failures++;
    const reason = err instanceof Error ? err.message : err === undefined ? 'failure' : String(err);
    if (this.#state === 'half-open') {
      this.#probing = false;
      this.#open(`probe failed: ${reason}`);
    } else if (this.#state === 'closed' && this.#failures >= this.options.failureThreshold) {
      this.#open(`${this.#failures} consecutive failures, last: ${reason}`);
    }
  }

  #open(reason: string): void {
    this.#openedTimes++;
    const o = this.options;
    this.#retryAt = o.now() + backoffDelay(this.#openedTimes, o.openBaseMs, o.openMaxMs);
    this.#set('open', reason);
  }

  #set(to: BreakerState, reason: string): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#transitions++;
    const log = this.options.logger;
    const fields = { breaker: this.options.name, from, to, reason, failures: this.#failures };
    if (to === 'open') log.warn(fields, `circuit breaker ${this.options.name} open`);
    else log.info(fields, `circuit breaker ${this.options.name} ${to}`);
    this.emit('state', to, from, reason);
  }
}
