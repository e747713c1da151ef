/**
 * `npm run bench -- scale`: how Canopy spreads out (issue #16), each part in
 * its own module under bench/scale/ starting its own servers:
 *
 * - workers.ts: end to end frames/s with 1, 2 and 4 workers on one group, and
 *   CPU per 1,000 frames (so a figure taken on 2 cores extrapolates);
 * - failover.ts: a Redis primary kill -9'd mid-run under Sentinel: seconds to
 *   recover and frames lost (must be 0);
 * - cluster.ts: producer and group drain on a six-node Redis Cluster beside
 *   the same on a single server in the same run;
 * - gateways.ts: messages/s through one and through two gateways.
 *
 * A part that fails is reported on stderr and its figures are left out (the
 * summary shows them as not measured); the others still run.
 * BENCH_SCALE_PARTS=workers,cluster runs only some.
 */
import { measure as cluster } from './scale/cluster.js';
import { measure as failover } from './scale/failover.js';
import { measure as gateways } from './scale/gateways.js';
import { measure as workers } from './scale/workers.js';

const PARTS: Record<string, () => Promise<Record<string, number>>> = { workers, failover, cluster, gateways };

export async function run(): Promise<Record<string, number>> {
  const wanted = (process.env.BENCH_SCALE_PARTS ?? Object.keys(PARTS).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const figures: Record<string, number> = {};
  for (const name of wanted) {
    const part = PARTS[name];
    if (!part) throw new Error(`BENCH_SCALE_PARTS: unknown part "${name}" (known: ${Object.keys(PARTS).join(', ')})`);
    const t0 = Date.now();
    process.stderr.write(`scale: ${name}…\n`);
    try {
      Object.assign(figures, await part());
      process.stderr.write(`scale: ${name} done in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    } catch (err) {
      process.stderr.write(`scale: ${name} failed: ${(err as Error).stack ?? String(err)}\n`);
    }
  }
  return figures;
}
