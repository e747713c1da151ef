import type { Connection } from '../../bus/connection.js';
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

/**
 * Reads `<prefix><name>` and `<prefix><name>:ts` for every sensor in one
 * MGET (Redis only, never the store).
 */
export async function readLive(
  conn: Connection,
  sensors: readonly SensorInfo[],
  opts: { prefix: string; staleAfterMs: number; now?: number },
): Promise<LiveValue[]> {
  if (sensors.length === 0) return [];
  const keys: string[] = [];
  for (const s of sensors) keys.push(`${opts.prefix}${s.name}`, `${opts.prefix}${s.name}:ts`);
  const raw = await conn.run('MGET live keys', (c) => c.mGet(keys));
  const now = opts.now ?? Date.now();
  return sensors.map((s, i) => {
    const v = parseNum(raw[2 * i]);
    const ts = parseNum(raw[2 * i + 1]);
    const ageMs = ts === null ? null : Math.max(0, now - ts);
    return {
      name: s.name,
      location: s.location,
      cluster: s.cluster,
      unit: s.unit,
      kind: s.kind,
      value: v,
      ts: v === null ? null : ts,
      ageMs: v === null ? null : ageMs,
      stale: v === null || ageMs === null || ageMs > opts.staleAfterMs,
    };
  });
}

function parseNum(x: unknown): number | null {
  if (x === null || x === undefined) return null;
  const n = Number(typeof x === 'string' ? x : String(x));
  return Number.isFinite(n) && String(x).trim() !== '' ? n : null;
}
