/**
 * Psychrometrics after FAO Irrigation and Drainage Paper 56 (Allen et al.,
 * 1998), chapter 3: saturation vapour pressure by the Tetens form (eq. 11),
 * actual vapour pressure from dry and wet bulb (eq. 15–16), relative
 * humidity (eq. 10) and vapour pressure deficit. Temperatures in °C,
 * pressures in kPa.
 */

/** Psychrometer coefficient of a ventilated (Asmann) psychrometer, /°C (FAO-56 eq. 16). */
export const VENTILATED_COEFFICIENT = 0.000662;
/** Sea-level standard pressure, kPa. */
export const STANDARD_PRESSURE_KPA = 101.325;

/** e°(T) = 0.6108·exp(17.27·T / (T + 237.3)), kPa. */
export function saturationVapourPressure(tC: number): number {
  return 0.6108 * Math.exp((17.27 * tC) / (tC + 237.3));
}

/** e_a = e°(T_wet) − a_psy·P·(T_dry − T_wet), kPa. */
export function actualVapourPressure(
  dryC: number,
  wetC: number,
  pressureKpa = STANDARD_PRESSURE_KPA,
  coefficient = VENTILATED_COEFFICIENT,
): number {
  return saturationVapourPressure(wetC) - coefficient * pressureKpa * (dryC - wetC);
}

export interface RelativeHumidity {
  /** RH clamped to [0, 100] %. */
  rh: number;
  /** RH as computed, before clamping. */
  unclamped: number;
  /** True when `unclamped` was outside [0, 100]. */
  clamped: boolean;
}

/** RH = 100·e_a / e°(T_dry), clamped to [0, 100] with a flag when it was outside. */
export function relativeHumidity(
  dryC: number,
  wetC: number,
  pressureKpa = STANDARD_PRESSURE_KPA,
  coefficient = VENTILATED_COEFFICIENT,
): RelativeHumidity {
  const unclamped = (100 * actualVapourPressure(dryC, wetC, pressureKpa, coefficient)) / saturationVapourPressure(dryC);
  const rh = unclamped < 0 ? 0 : unclamped > 100 ? 100 : unclamped;
  return { rh, unclamped, clamped: rh !== unclamped };
}

/** Air VPD = e°(T_dry)·(1 − RH/100), kPa. */
export function vapourPressureDeficit(dryC: number, rhPct: number): number {
  return saturationVapourPressure(dryC) * (1 - rhPct / 100);
}

/**
 * Leaf VPD = e°(T_leaf) − e_a with T_leaf = T_air + leafOffsetC (a leaf under
 * lights is typically 1–3 °C cooler than the air: a negative offset), kPa.
 */
export function leafVapourPressureDeficit(airC: number, rhPct: number, leafOffsetC = -2): number {
  const ea = (saturationVapourPressure(airC) * rhPct) / 100;
  return saturationVapourPressure(airC + leafOffsetC) - ea;
}

/** Dew point from actual vapour pressure (inverse of the Tetens form), °C. */
export function dewPoint(eaKpa: number): number {
  const g = Math.log(eaKpa / 0.6108);
  return (237.3 * g) / (17.27 - g);
}

/**
 * The wet bulb temperature a psychrometer shows at this dry bulb, RH and
 * pressure (the inverse of {@link relativeHumidity}, by bisection; used by
 * the simulator and tests).
 */
export function wetBulbFromRh(
  dryC: number,
  rhPct: number,
  pressureKpa = STANDARD_PRESSURE_KPA,
  coefficient = VENTILATED_COEFFICIENT,
): number {
  const target = (saturationVapourPressure(dryC) * rhPct) / 100;
  let lo = dryC - 40;
  let hi = dryC;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (actualVapourPressure(dryC, mid, pressureKpa, coefficient) > target) hi = mid;
    else lo = mid;
  }
  return (lo + hi) / 2;
}

/** Converts a pressure in the given unit to kPa (hPa, mbar, kPa, Pa). */
export function toKpa(value: number, unit: string): number {
  switch (unit) {
    case 'hPa':
    case 'mbar':
      return value / 10;
    case 'Pa':
      return value / 1000;
    default:
      return value;
  }
}
