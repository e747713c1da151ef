import { backoffDelay } from '../options.js';

/** `ready`: reading; `degraded`: the last step failed and the loop is backing off. */
export type ConsumerHealth = 'starting' | 'ready' | 'degraded' | 'stopping' | 'stopped';

/**
 * How a consumer loop waits after a failure: exponential backoff with
 * jitter, counted separately for loop steps and for the handler, in a sleep
 * that {@link LoopBackoff.wake} (a stop) cuts short.
 */
export class LoopBackoff {
  /** Loop steps failed in a row (reset by a good step). */
  failures = 0;
  /** Handler calls failed in a row (reset by a good call). */
  handlerFailures = 0;
  readonly #baseMs: number;
  readonly #maxMs: number;
  #wake: (() => void) | undefined;

  constructor(baseMs: number, maxMs: number) {
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
  }

  /** The delay before attempt `attempt` (1, 2, …). */
  delay(attempt: number): number {
    return backoffDelay(attempt, this.#baseMs, this.#maxMs);
  }

  /** Sleeps {@link delay}(attempt) ms, or until {@link wake}. */
  sleep(attempt: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.delay(attempt));
      this.#wake = done;
    });
  }

  /** Ends the current sleep at once. */
  wake(): void {
    this.#wake?.();
  }
}
