import type { LiveState } from '../../bus/state.js';
import type { SensorInfo } from './catalogue.js';

/** One sensor's live value as the API reports it. */
export interface LiveValue {
  name: string;
  location: string;
  cluster: string;
  unit: string;
  kind: string;
  /** null when the key is missing (expired: nothing for 10 s) or unparseable. */
  value: number | null;
  /** unix ms of the reading, or null. */
  ts: number | null;
  /** now − ts in ms, or null. */
  ageMs: number | null;
  /** true when missing or older than the stale limit. */
  stale: boolean;
}

/** Every sensor's `sensor:<name>` / `:ts` pair in one MGET (Redis only, never the store). */
export async function readLive(
  state: LiveState,
  sensors: readonly SensorInfo[],
  staleAfterMs: number,
): Promise<LiveValue[]> {
  const raw = await state.read(sensors.map((s) => s.name));
  return sensors.map((s, i) => {
    const r = raw[i];
    const n = r?.value === null || r?.value === undefined || r.value.trim() === '' ? NaN : Number(r.value);
    const ok = Number.isFinite(n);
    const ts = ok ? (r?.ts ?? null) : null;
    const ageMs = ok && r?.ageMs !== null && r?.ageMs !== undefined ? Math.max(0, r.ageMs) : null;
    return {
      name: s.name,
      location: s.location,
      cluster: s.cluster,
      unit: s.unit,
      kind: s.kind,
      value: ok ? n : null,
      ts,
      ageMs,
      stale: !ok || ageMs === null || ageMs > staleAfterMs,
    };
  });
}
