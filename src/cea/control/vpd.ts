import { saturationVapourPressure } from '../psychrometrics.js';

/**
 * Leaf VPD in kPa: the saturation vapour pressure at the leaf (air
 * temperature plus `leafOffsetC`, usually −1 to −3 °C under lights) minus
 * the actual vapour pressure of the air, e°(T_air)·RH/100 — the same FAO-56
 * e°(T) the pipeline uses for `vpd_x` (src/cea/psychrometrics).
 */
export function leafVpdKpa(airC: number, rhPct: number, leafOffsetC = 0): number {
  const ea = saturationVapourPressure(airC) * (Math.min(100, Math.max(0, rhPct)) / 100);
  return saturationVapourPressure(airC + leafOffsetC) - ea;
}
