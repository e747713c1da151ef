/**
 * `npm run bench -- soak-compact [--seconds=N]`: the soak (bench/soak.ts) of
 * `canopy up --compact`, every service in one process; the same figures,
 * named soak_compact_… (soak_compact_rss_total_mb, …).
 */
import { soak } from './soak.js';

export async function run(): Promise<Record<string, number>> {
  const figures = await soak(true);
  return Object.fromEntries(Object.entries(figures).map(([k, v]) => [k.replace(/^soak_/, 'soak_compact_'), v]));
}
