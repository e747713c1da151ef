/** Whether a benchmark may start at the current load (pure; test/bench/load.test.ts). */
export interface LoadGate {
  ok: boolean;
  /** The 1-minute load average at start, rounded to 0.01. */
  load: number;
  threshold: number;
  reason?: string;
}

/**
 * `threshold` from BENCH_MAX_LOAD when it is a positive number, else the CPU
 * count. Above it the benchmark refuses unless forced.
 */
export function loadGate(load1m: number, cpus: number, maxLoadEnv: string | undefined, force: boolean): LoadGate {
  const parsed = Number(maxLoadEnv);
  const threshold =
    maxLoadEnv !== undefined && maxLoadEnv !== '' && Number.isFinite(parsed) && parsed > 0 ? parsed : cpus;
  const load = Math.round(load1m * 100) / 100;
  if (load <= threshold || force) return { ok: true, load, threshold };
  return {
    ok: false,
    load,
    threshold,
    reason: `load average ${load} is above ${threshold} (BENCH_MAX_LOAD); figures would not be comparable — wait, or pass --force`,
  };
}
