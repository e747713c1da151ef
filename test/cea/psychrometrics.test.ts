import { describe, expect, it } from 'vitest';
import {
  actualVapourPressure,
  dewPoint,
  leafVapourPressureDeficit,
  relativeHumidity,
  saturationVapourPressure,
  toKpa,
  vapourPressureDeficit,
  wetBulbFromRh,
} from '../../src/cea/psychrometrics.js';

describe('FAO-56 psychrometrics', () => {
  it('saturation vapour pressure matches the FAO-56 Annex 2 table', () => {
    // FAO-56 Table 2.3: e°(T) in kPa.
    expect(saturationVapourPressure(1)).toBeCloseTo(0.657, 3);
    expect(saturationVapourPressure(15)).toBeCloseTo(1.705, 3);
    expect(saturationVapourPressure(24.5)).toBeCloseTo(3.075, 3);
    expect(saturationVapourPressure(20)).toBeCloseTo(2.338, 3);
    expect(saturationVapourPressure(-5)).toBeCloseTo(0.4215, 3);
  });

  it('FAO-56 Example 5: e_a from a ventilated psychrometer at 1200 m', () => {
    // T_dry 25.6 °C, T_wet 19.5 °C, P = 87.9 kPa, a_psy = 0.000662 → e_a = 1.91 kPa.
    expect(actualVapourPressure(25.6, 19.5, 87.9, 0.000662)).toBeCloseTo(1.91, 2);
  });

  it('T_dry 25, T_wet 20, P 101.325 → RH ≈ 63.2 %', () => {
    const r = relativeHumidity(25, 20, 101.325);
    expect(r.rh).toBeCloseTo(63.2, 1);
    expect(r.clamped).toBe(false);
    expect(vapourPressureDeficit(25, r.rh)).toBeCloseTo(1.165, 3);
  });

  it('equal bulbs mean saturation; lower pressure gives higher RH', () => {
    expect(relativeHumidity(22, 22).rh).toBeCloseTo(100, 6);
    expect(relativeHumidity(25, 20, 87.9).rh).toBeGreaterThan(relativeHumidity(25, 20, 101.325).rh);
  });

  it('a non-ventilated coefficient lowers RH', () => {
    expect(relativeHumidity(25, 20, 101.325, 0.0012).rh).toBeLessThan(relativeHumidity(25, 20, 101.325).rh);
  });

  it('clamps for output with a flag, keeping the unclamped value', () => {
    const wetAbove = relativeHumidity(20, 20.4);
    expect(wetAbove.rh).toBe(100);
    expect(wetAbove.unclamped).toBeGreaterThan(100);
    expect(wetAbove.clamped).toBe(true);
    const veryDry = relativeHumidity(40, 10);
    expect(veryDry.rh).toBe(0);
    expect(veryDry.unclamped).toBeLessThan(0);
    expect(veryDry.clamped).toBe(true);
  });

  it('VPD = e°(T)·(1 − RH/100)', () => {
    expect(vapourPressureDeficit(25, 60)).toBeCloseTo(3.1686 * 0.4, 3);
    expect(vapourPressureDeficit(25, 100)).toBe(0);
  });

  it('leaf VPD with a cooler leaf is lower than air VPD', () => {
    const air = vapourPressureDeficit(26, 60);
    expect(leafVapourPressureDeficit(26, 60, 0)).toBeCloseTo(air, 10);
    expect(leafVapourPressureDeficit(26, 60, -2)).toBeLessThan(air);
  });

  it('wetBulbFromRh inverts relativeHumidity; dew point inverts e°', () => {
    for (const [t, rh] of [
      [24, 65],
      [18, 40],
      [30, 85],
    ] as const) {
      const wet = wetBulbFromRh(t, rh, 99);
      expect(relativeHumidity(t, wet, 99).rh).toBeCloseTo(rh, 3);
    }
    expect(dewPoint(saturationVapourPressure(12.3))).toBeCloseTo(12.3, 6);
  });

  it('converts pressure units to kPa', () => {
    expect(toKpa(1013.25, 'hPa')).toBeCloseTo(101.325, 6);
    expect(toKpa(101325, 'Pa')).toBeCloseTo(101.325, 6);
    expect(toKpa(101.325, 'kPa')).toBe(101.325);
  });
});
