import type { Band } from './targets.js';

/**
 * Room health, pure: a value against its band, and a room's status from
 * its key values and active alerts.
 *
 * - `ok`: inside the band (the band's edges count as inside);
 * - `attention`: outside low/high, inside the alarm limits;
 * - `alarm`: beyond an alarm limit (alarmLow/alarmHigh);
 * - `stale`: the last reading is too old to judge;
 * - `unknown`: no reading at all.
 */
export type KeyStatus = 'ok' | 'attention' | 'alarm' | 'stale' | 'unknown';
export type RoomStatus = 'ok' | 'attention' | 'alarm' | 'unknown';

export interface Judgement {
  status: KeyStatus;
  /** Why, for a grower: e.g. `above 28 °C (alarm)`, `no reading`; absent when ok. */
  text?: string;
}

/** Formats a value as the card shows it (`decimals` digits, then the unit). */
export function formatValue(v: number, decimals: number, unit: string): string {
  return `${v.toFixed(decimals)}${unit ? (unit === '%' ? '' : ' ') + unit : ''}`;
}

/** A value against its band. `stale` wins over the value: an old reading is not judged. */
export function judge(
  value: number | null,
  stale: boolean,
  band: Band | undefined,
  unit = '',
  decimals = 1,
): Judgement {
  if (value === null || !Number.isFinite(value)) return { status: 'unknown', text: 'no reading' };
  if (stale) return { status: 'stale', text: 'reading too old' };
  if (!band) return { status: 'ok' };
  const f = (v: number) => formatValue(v, decimals, unit);
  if (band.alarmLow !== undefined && value < band.alarmLow)
    return { status: 'alarm', text: `below alarm limit ${f(band.alarmLow)}` };
  if (band.alarmHigh !== undefined && value > band.alarmHigh)
    return { status: 'alarm', text: `above alarm limit ${f(band.alarmHigh)}` };
  if (band.low !== undefined && value < band.low) return { status: 'attention', text: `below ${f(band.low)}` };
  if (band.high !== undefined && value > band.high) return { status: 'attention', text: `above ${f(band.high)}` };
  return { status: 'ok' };
}

/** An active alert as far as the room status cares. */
export interface AlertLike {
  severity: string;
}

/**
 * The room's status, the worst of its key values and alerts: any alarm
 * value or critical alert → alarm; any attention, stale value or other
 * active alert → attention; nothing known (no key value read) → unknown;
 * else ok.
 */
export function roomStatus(keys: readonly KeyStatus[], alerts: readonly AlertLike[] = []): RoomStatus {
  if (keys.includes('alarm') || alerts.some((a) => a.severity === 'critical')) return 'alarm';
  if (keys.includes('attention') || keys.includes('stale') || alerts.length > 0) return 'attention';
  if (keys.length === 0 || keys.every((k) => k === 'unknown')) return 'unknown';
  return 'ok';
}
