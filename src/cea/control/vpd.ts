/**
 * Leaf vapour-pressure deficit. Saturation vapour pressure by the FAO-56
 * (Tetens) formula the pipeline uses for `vpd_x` (SPEC §3):
 * e°(T) = 0.6108·exp(17.27·T/(T+237.3)) kPa.
 */
export function saturationVapourPressureKpa(tC: number): number {
  return 0.6108 * Math.exp((17.27 * tC) / (tC + 237.3));
}

/**
 * Leaf VPD in kPa: the saturation pressure at the leaf (air temperature plus
 * `leafOffsetC`, usually −1 to −3 °C under lights) minus the actual vapour
 * pressure of the air.
 */
export function leafVpdKpa(airC: number, rhPct: number, leafOffsetC = 0): number {
  const ea = saturationVapourPressureKpa(airC) * (Math.min(100, Math.max(0, rhPct)) / 100);
  return saturationVapourPressureKpa(airC + leafOffsetC) - ea;
}
