/**
 * `npm run bench -- <name> [--force]`: imports `./<name>.js` (compiled from
 * `bench/<name>.ts`), calls its `run()`, prints the figures and writes
 * `bench/results/<name>.json` with its ratios (bench/lib/targets.ts), the load
 * average at start, machine and version details.
 *
 * `npm run bench -- all [--force]`: every benchmark in sequence, each in its
 * own process, then `bench/results/summary.md` + `summary.svg` (BENCH_SKIP=a,b
 * leaves some out; their older result files still count in the summary).
 * Before each, `all` waits up to BENCH_LOAD_WAIT_S (300) seconds for the load
 * average to fall to the threshold (the previous benchmark's load lingers in it).
 * `npm run bench -- summary`: only the summary, from the result files present.
 *
 * A benchmark refuses to start when the 1-minute load average is above
 * BENCH_MAX_LOAD (default: the number of CPUs) unless `--force` is given:
 * figures taken on a busy machine are not comparable.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadGate } from './lib/load.js';
import { writeSummary } from './lib/summary.js';
import { packageRoot, writeReport } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const NOT_BENCHES = new Set(['run', 'report']);
/** The order of `all`: short and self-contained first, the soak last. */
const ORDER = [
  'decode',
  'bus',
  'bus-batching',
  'fabric',
  'store',
  'pipeline',
  'baseline',
  'api',
  'automation',
  'gateway',
  'scale',
  'soak-compact',
  'soak',
];

function available(): string[] {
  return fs
    .readdirSync(here)
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))
    .filter((n) => !NOT_BENCHES.has(n))
    .sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b));
}

const resultsDir = () => path.join(packageRoot(), 'bench', 'results');

async function one(name: string, force: boolean): Promise<number> {
  const gate = loadGate(os.loadavg()[0] ?? 0, os.cpus().length, process.env.BENCH_MAX_LOAD, force);
  if (!gate.ok) {
    process.stderr.write(`bench ${name}: ${gate.reason}\n`);
    return 3;
  }
  const mod = (await import(pathToFileURL(path.join(here, `${name}.js`)).href)) as {
    run?: () => Promise<Record<string, number>>;
  };
  if (typeof mod.run !== 'function') {
    process.stderr.write(`bench/${name}.ts does not export run()\n`);
    return 2;
  }
  const figures = await mod.run();
  const file = writeReport(name, figures, packageRoot(), gate.load);
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\nwritten to ${file}\n`);
  return 0;
}

/** Every benchmark in its own process (fresh heap, its own load check), then the summary. */
async function all(force: boolean): Promise<number> {
  const failed: string[] = [];
  const skip = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
  const waitS = Number(process.env.BENCH_LOAD_WAIT_S || 300);
  for (const name of available().filter((n) => !skip.has(n))) {
    for (let waited = 0; !force && waited < waitS; waited += 10) {
      if (loadGate(os.loadavg()[0] ?? 0, os.cpus().length, process.env.BENCH_MAX_LOAD, false).ok) break;
      await new Promise((r) => setTimeout(r, 10_000));
    }
    process.stderr.write(`\n=== bench ${name} (load ${os.loadavg()[0]?.toFixed(2)}) ===\n`);
    const r = spawnSync(process.execPath, [path.join(here, 'run.js'), name, ...(force ? ['--force'] : [])], {
      stdio: 'inherit',
      timeout: 6 * 3600_000, // the soak runs 1 h by default; nothing else comes close
    });
    if (r.status !== 0) failed.push(`${name} (exit ${r.status ?? r.signal})`);
  }
  const file = await writeSummary(resultsDir());
  process.stdout.write(`summary written to ${file}\n`);
  if (failed.length) process.stderr.write(`failed: ${failed.join(', ')}\n`);
  return failed.length ? 1 : 0;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const name = args.find((a) => !a.startsWith('--'));
  if (name === 'all') return all(force);
  if (name === 'summary') {
    process.stdout.write(`written to ${await writeSummary(resultsDir())}\n`);
    return 0;
  }
  if (!name || !/^[a-z0-9][a-z0-9-]*$/.test(name) || NOT_BENCHES.has(name) || !available().includes(name)) {
    process.stderr.write(
      `usage: npm run bench -- <name>|all|summary [--force]\navailable: ${available().join(', ')}\n`,
    );
    return 2;
  }
  return one(name, force);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
