import { formatDuration } from './clock.js';
import type { SafetyLimits } from './config.js';

/** Why a relay did not do what it was asked. */
export type BlockReason = 'min_on' | 'min_off' | 'max_on' | 'toggle_limit' | 'exclusion';

export interface GuardDecision {
  on: boolean;
  /** Set when the result differs from the request (or max-on forced it off). */
  blocked?: BlockReason;
  /** Human-readable detail of the block. */
  detail?: string;
  /** Earliest time the block can lift (undefined: depends on other relays). */
  until?: number;
}

/** What a guard remembers, persisted across restarts. */
export interface GuardSnapshot {
  on: boolean;
  since: number;
  starts: number[];
}

/**
 * The safety of one physical relay, below every controller and command:
 * minimum on and off times, a maximum continuous on time, and a limit on
 * switch-ons (transitions out of the safe state) per window. A return to
 * the safe state is never held back by the start limit, only by min on/off.
 * Mutual exclusion is checked by the caller, which knows the other relays.
 * Pure: time comes in as an argument, on a monotonic clock (never the wall clock).
 */
export class RelayGuard {
  readonly limits: SafetyLimits;
  readonly safeOn: boolean;
  #on: boolean;
  #since: number;
  #starts: number[] = [];

  constructor(limits: SafetyLimits, safeOn: boolean, now: number) {
    this.limits = limits;
    this.safeOn = safeOn;
    this.#on = safeOn;
    this.#since = now;
  }

  get on(): boolean {
    return this.#on;
  }

  /** When the relay last switched (or the guard started). */
  get since(): number {
    return this.#since;
  }

  /** Applies the limits to a request. `otherOn` names an exclusive relay that is on, if any. */
  decide(want: boolean, now: number, otherOn?: string): GuardDecision {
    const l = this.limits;
    const held = now - this.#since;
    if (this.#on) {
      if (l.maxOnMs > 0 && held >= l.maxOnMs && held >= l.minOnMs) {
        return { on: false, blocked: 'max_on', detail: `on for ${fmtS(held)}, limit ${fmtS(l.maxOnMs)}` };
      }
      if (want) return { on: true };
      if (held < l.minOnMs)
        return {
          on: true,
          blocked: 'min_on',
          detail: `on for ${fmtS(held)} of ${fmtS(l.minOnMs)}`,
          until: this.#since + l.minOnMs,
        };
      const limited = this.safeOn ? this.#startLimit(now) : undefined;
      return limited ? { on: true, ...limited } : { on: false };
    }
    if (!want) return { on: false };
    if (held < l.minOffMs)
      return {
        on: false,
        blocked: 'min_off',
        detail: `off for ${fmtS(held)} of ${fmtS(l.minOffMs)}`,
        until: this.#since + l.minOffMs,
      };
    if (otherOn !== undefined) return { on: false, blocked: 'exclusion', detail: `${otherOn} is on` };
    const limited = this.safeOn ? undefined : this.#startLimit(now);
    return limited ? { on: false, ...limited } : { on: true };
  }

  /** The block when leaving the safe state now would exceed the start limit. */
  #startLimit(now: number): Omit<GuardDecision, 'on'> | undefined {
    const l = this.limits;
    if (l.maxStarts <= 0) return undefined;
    const recent = this.#starts.filter((t) => t > now - l.windowMs);
    if (recent.length < l.maxStarts) return undefined;
    return {
      blocked: 'toggle_limit',
      detail: `${recent.length} switch-ons in the last ${fmtS(l.windowMs)}`,
      until: recent[0]! + l.windowMs,
    };
  }

  /**
   * Records a switch. A relay whose safe state is on "starts" when it turns
   * off (leaves its safe state) — the limit then counts those.
   */
  commit(on: boolean, now: number): void {
    if (on === this.#on) return;
    this.#on = on;
    this.#since = now;
    if (on !== this.safeOn && this.limits.maxStarts > 0) {
      // only the last maxStarts switch-ons inside the window can block the next one
      this.#starts.push(now);
      const horizon = now - this.limits.windowMs;
      while (this.#starts.length && (this.#starts[0]! <= horizon || this.#starts.length > this.limits.maxStarts))
        this.#starts.shift();
    }
  }

  snapshot(): GuardSnapshot {
    return { on: this.#on, since: this.#since, starts: [...this.#starts] };
  }

  /** Restores history that still describes the relay (it is in the same state as when persisted). */
  restoreHistory(s: GuardSnapshot): void {
    if (s.on === this.#on && Number.isFinite(s.since) && s.since <= this.#since) this.#since = s.since;
    this.#starts = s.starts.filter((t) => Number.isFinite(t)).sort((a, b) => a - b);
  }
}

const fmtS = formatDuration;

const LABELS: Record<BlockReason, string> = {
  min_on: 'min on',
  min_off: 'min off',
  max_on: 'max on',
  toggle_limit: 'switch-on limit',
  exclusion: 'exclusion',
};

/** `on held back: min off, 3 min 20 s left` — what a dashboard shows beside the device. */
export function holdBackText(want: boolean, d: GuardDecision, now: number): string {
  const what = `${want ? 'on' : 'off'} held back: ${d.blocked ? LABELS[d.blocked] : 'blocked'}`;
  if (d.blocked === 'exclusion') return `${what} (${d.detail})`;
  return d.until !== undefined ? `${what}, ${formatDuration(d.until - now)} left` : `${what} (${d.detail})`;
}

/** What holds a switch back, for `held.why`: `min off`, `switch-on limit (30 switch-ons in the last 1 h)`. */
export function holdBackWhy(d: GuardDecision): string {
  if (!d.blocked) return 'blocked';
  return d.blocked === 'toggle_limit' || d.blocked === 'exclusion'
    ? `${LABELS[d.blocked]} (${d.detail})`
    : LABELS[d.blocked];
}
