/**
 * Time for the control loop. Every duration (reading ages, min on/off,
 * max-on, toggle windows, manual expiries, command ages) is measured on a
 * monotonic clock, which never steps; the wall clock is used only for what
 * it defines (schedules, photoperiods, local days) and for the timestamps
 * written out. A Raspberry Pi has no RTC: NTP steps its wall clock after
 * boot by minutes or hours, which must never stretch or shorten a duration.
 */
export interface Clock {
  /** Monotonic milliseconds (arbitrary origin, never steps, only meaningful as differences). */
  monoMs(): number;
  /** Wall-clock milliseconds since the Unix epoch (may step forward or back). */
  wallMs(): number;
}

/** One moment on both clocks. */
export interface Instant {
  mono: number;
  wall: number;
}

/** The process's clocks: `performance.now()` (CLOCK_MONOTONIC) and `Date.now()`. */
export function systemClock(): Clock {
  return { monoMs: () => performance.now(), wallMs: () => Date.now() };
}

export function instant(clock: Clock): Instant {
  return { mono: clock.monoMs(), wall: clock.wallMs() };
}

/** For tests and pure code that have one number: both clocks at `ms`. */
export function at(ms: number): Instant {
  return { mono: ms, wall: ms };
}

/** The wall-clock time of a monotonic moment, as seen from `now`. */
export function wallOf(mono: number, now: Instant): number {
  return now.wall - (now.mono - mono);
}

/** The monotonic moment of a wall-clock time, as seen from `now` (a persisted deadline, a timestamp). */
export function monoOf(wall: number, now: Instant): number {
  return now.mono - (now.wall - wall);
}

/**
 * Notices steps of the wall clock: between two observations, the wall
 * clock moved by a different amount than the monotonic one.
 */
export class ClockStepDetector {
  readonly thresholdMs: number;
  #last: Instant | undefined;

  /** @param thresholdMs a difference larger than this counts as a step (default 2 s). */
  constructor(thresholdMs = 2000) {
    this.thresholdMs = thresholdMs;
  }

  /** Returns the size of the step (ms, negative: back) since the last observation, or undefined. */
  observe(now: Instant): number | undefined {
    const last = this.#last;
    this.#last = now;
    if (!last) return undefined;
    const step = now.wall - last.wall - (now.mono - last.mono);
    return Math.abs(step) > this.thresholdMs ? step : undefined;
  }
}

/** `-3600000` → `-1 h`, `93784000` → `+1 d 2 h 3 min 4 s`. */
export function formatStep(ms: number): string {
  return `${ms < 0 ? '-' : '+'}${formatDuration(Math.abs(ms))}`;
}

/** `200000` → `3 min 20 s`; under a minute with one decimal below 10 s. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, ms);
  if (total < 10_000) return `${Math.round(total / 100) / 10} s`;
  let s = Math.round(total / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['min', 60],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)} ${unit}`);
      s %= size;
    }
  }
  if (s || !parts.length) parts.push(`${s} s`);
  return parts.join(' ');
}
