import type { LiveState } from '../../bus/state.js';
import type { SensorInfo } from './catalogue.js';

/** One sensor's live value as the API reports it. */
export interface LiveValue {
  name: string;
  location: string;
  cluster: string;
  unit: string;
  base: string;
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
      base: s.base,
      value: ok ? n : null,
      ts,
      ageMs,
      stale: !ok || ageMs === null || ageMs > staleAfterMs,
    };
  });
}

/**
 * Serves `/api/sensors/live` under load: concurrent requests share one MGET
 * and one serialisation. A request that arrives while a read is in flight
 * waits for the next read (which starts when that one ends), so it never
 * gets values read before it arrived.
 */
export class LiveSnapshots {
  readonly #read: () => Promise<string>;
  #inflight: Promise<string> | undefined;
  #next: Promise<string> | undefined;

  constructor(read: () => Promise<string>) {
    this.#read = read;
  }

  get(): Promise<string> {
    if (!this.#inflight) return this.#start();
    this.#next ??= this.#inflight
      .catch(() => undefined)
      .then(() => {
        this.#next = undefined;
        return this.#start();
      });
    return this.#next;
  }

  #start(): Promise<string> {
    const p = this.#read().finally(() => {
      if (this.#inflight === p) this.#inflight = undefined;
    });
    this.#inflight = p;
    return p;
  }
}
