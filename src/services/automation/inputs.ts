import type { Instant } from '../../cea/control/clock.js';
import type { ControlEngine } from '../../cea/control/engine.js';
import type { SensorReadings } from '../../contracts/updates.js';

/**
 * Takes a pushed update: every numeric value is a new sample received at
 * `t` (its age counts from there, whatever its timestamp says; the
 * timestamp only identifies the sample). Returns how many were taken and
 * the devices reading them.
 */
export function takeUpdate(
  engine: ControlEngine,
  m: SensorReadings,
  t: Instant,
): { taken: number; touched: Set<string> } {
  const parsed = typeof m.timestamp === 'string' ? Date.parse(m.timestamp) : NaN;
  const ts = Number.isFinite(parsed) ? parsed : undefined;
  const touched = new Set<string>();
  let taken = 0;
  for (const [name, value] of Object.entries(m.sensor_data)) {
    if (typeof value !== 'number') continue;
    if (engine.ingest(name, value, t.mono, ts)) {
      taken++;
      for (const d of engine.devicesReading(name)) touched.add(d);
    }
  }
  return { taken, touched };
}

/**
 * Takes the live keys: a value counts as new only when its sample changed
 * (a key left behind by a dead writer is not fresh forever), and is aged
 * by what its timestamp says when that lies in the past (never made
 * younger by a timestamp in the future). Returns how many were taken.
 */
export function takeLive(
  engine: ControlEngine,
  rows: { name: string; value: unknown; ts: number | null }[],
  t: Instant,
): number {
  let taken = 0;
  for (const r of rows) {
    if (r.value === null || r.ts === null) continue;
    const received = t.mono - Math.max(0, t.wall - r.ts);
    if (engine.ingest(r.name, Number(r.value), received, r.ts)) taken++;
  }
  return taken;
}
