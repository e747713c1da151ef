import type { Instant } from './clock.js';
import type { ZoneClock } from './timezone.js';

/** On time of one device on one local day. */
export interface OnTimeDay {
  date: string;
  hours: number;
  /** kWh, when the device's wattage is configured. */
  energyKwh: number | null;
}

/**
 * On-time accounts per device per local day (in the configured time zone):
 * intervals are split at local midnights, days older than `keepDays` are
 * dropped. Pure: times come in as arguments. Durations are measured on the
 * monotonic clock and placed on the wall clock's days ending now, so a
 * step of the wall clock neither adds nor loses on time.
 */
export class OnTimeAccount {
  readonly #zone: ZoneClock;
  readonly #keepDays: number;
  /** device → date → ms on. */
  readonly #ms = new Map<string, Map<string, number>>();
  /** device → when it was switched on (while on). */
  readonly #onSince = new Map<string, Instant>();
  readonly #wattage = new Map<string, number | undefined>();

  constructor(zone: ZoneClock, devices: { name: string; wattage: number | undefined }[], keepDays = 8) {
    this.#zone = zone;
    this.#keepDays = keepDays;
    for (const d of devices) this.#wattage.set(d.name, d.wattage);
  }

  /** Records that `device` is now on or off. */
  record(device: string, on: boolean, now: Instant): void {
    const since = this.#onSince.get(device);
    if (on) {
      if (since === undefined) this.#onSince.set(device, now);
      return;
    }
    if (since !== undefined) {
      this.#add(device, now.wall - Math.max(0, now.mono - since.mono), now.wall);
      this.#onSince.delete(device);
    }
  }

  /** Accounts per device up to `now` (a device that is on is counted until now). */
  report(now: Instant): Record<string, OnTimeDay[]> {
    const out: Record<string, OnTimeDay[]> = {};
    for (const [device, watts] of this.#wattage) {
      const days = new Map(this.#ms.get(device) ?? []);
      const since = this.#onSince.get(device);
      if (since !== undefined)
        for (const [date, ms] of this.#split(now.wall - Math.max(0, now.mono - since.mono), now.wall))
          days.set(date, (days.get(date) ?? 0) + ms);
      out[device] = [...days]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([date, ms]) => {
          const hours = ms / 3_600_000;
          return { date, hours, energyKwh: watts === undefined ? null : (hours * watts) / 1000 };
        });
    }
    return out;
  }

  /** Persistable form: device → date → ms (closed intervals only). */
  snapshot(): Record<string, Record<string, number>> {
    return Object.fromEntries([...this.#ms].map(([d, m]) => [d, Object.fromEntries(m)]));
  }

  restore(s: Record<string, Record<string, number>>): void {
    for (const [device, days] of Object.entries(s)) {
      if (!this.#wattage.has(device)) continue;
      const m = this.#ms.get(device) ?? new Map<string, number>();
      for (const [date, ms] of Object.entries(days)) if (Number.isFinite(ms) && ms > 0) m.set(date, ms);
      this.#ms.set(device, m);
    }
  }

  #add(device: string, from: number, to: number): void {
    const m = this.#ms.get(device) ?? new Map<string, number>();
    for (const [date, ms] of this.#split(from, to)) m.set(date, (m.get(date) ?? 0) + ms);
    const dates = [...m.keys()].sort();
    while (dates.length > this.#keepDays) m.delete(dates.shift()!);
    this.#ms.set(device, m);
  }

  #split(from: number, to: number): [string, number][] {
    const out: [string, number][] = [];
    let t = from;
    while (t < to) {
      const end = Math.min(to, this.#zone.nextMidnight(t));
      out.push([this.#zone.date(t), end - t]);
      t = end;
    }
    return out;
  }
}
