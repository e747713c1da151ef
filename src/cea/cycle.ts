import { Temporal } from 'temporal-polyfill';

/** A room's grow cycle as the dashboard shows it: stage and "week 3, day 6" since its start date. */
export interface CycleView {
  stage: string;
  /** `YYYY-MM-DD`, the first day of the cycle (day 1 of week 1), in the devices file's time zone. */
  start: string;
  /** 1-based; 0 while the start date is still ahead. */
  week: number;
  /** 1–7 within the week; while the start is ahead, minus the days left. */
  day: number;
  /** e.g. `week 3, day 6`, or `starts in 2 days`. */
  label: string;
}

/** A start date that is not a real `YYYY-MM-DD` calendar date. */
export class CycleDateError extends Error {
  readonly code = 'CYCLE_BAD_DATE';
  constructor(value: string, options?: { cause?: unknown }) {
    super(`"${value}" is not a calendar date (YYYY-MM-DD)`, options);
    this.name = 'CycleDateError';
  }
}

/** Parses `YYYY-MM-DD` strictly (no 2026-02-30); throws {@link CycleDateError}. */
export function parseCycleDate(value: string): Temporal.PlainDate {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new CycleDateError(value);
  try {
    return Temporal.PlainDate.from(value, { overflow: 'reject' });
  } catch (err) {
    throw new CycleDateError(value, { cause: err });
  }
}

/**
 * Week and day of a cycle at `now` (ms), counted in calendar days of
 * `timeZone` (the devices file's): the start date is week 1, day 1; a new
 * day begins at local midnight, whatever the daylight-saving shift.
 */
export function cycleView(stage: string, start: string, now: number, timeZone: string): CycleView {
  const first = parseCycleDate(start);
  const today = Temporal.Instant.fromEpochMilliseconds(Math.trunc(now)).toZonedDateTimeISO(timeZone).toPlainDate();
  const days = first.until(today, { largestUnit: 'days' }).days;
  if (days < 0) {
    const left = -days;
    return { stage, start, week: 0, day: days, label: `starts in ${left} day${left === 1 ? '' : 's'}` };
  }
  const week = Math.floor(days / 7) + 1;
  const day = (days % 7) + 1;
  return { stage, start, week, day, label: `week ${week}, day ${day}` };
}

/** `YYYY-MM-DD` of the local date of `now` in `timeZone`. */
export function localDate(now: number, timeZone: string): string {
  return Temporal.Instant.fromEpochMilliseconds(Math.trunc(now)).toZonedDateTimeISO(timeZone).toPlainDate().toString();
}
