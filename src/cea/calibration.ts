/** Per-sensor linear calibration: value = raw × gain + offset. */
export interface Calibration {
  offset: number;
  gain: number;
}

export const IDENTITY: Calibration = Object.freeze({ offset: 0, gain: 1 });

/**
 * Applies a calibration. The result is rounded to 6 decimals so that a
 * correction such as +0.1 on 23.55 gives 23.65, not 23.650000000000002.
 */
export function calibrate(raw: number, cal: Calibration): number {
  if (cal.gain === 1 && cal.offset === 0) return raw;
  const v = raw * cal.gain + cal.offset;
  return Math.round(v * 1e6) / 1e6;
}

/** The raw value a calibrated value came from (for tests and the simulator). */
export function uncalibrate(value: number, cal: Calibration): number {
  return (value - cal.offset) / cal.gain;
}
