import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ratiosFor, type RatioResult } from './lib/targets.js';

/** What `bench/results/<name>.json` holds. */
export interface BenchReport {
  figures: Record<string, number>;
  machine: { cpus: number; model: string; memGiB: number; os: string };
  versions: { node: string; redisServer: string; canopy: string };
  /** The ratios of bench/targets.ts whose figures are in this file, with their targets. */
  ratios: RatioResult[];
  /** The machine's 1-minute load average when the benchmark started. */
  loadAvg1mAtStart: number | null;
  /** When the run ended (ISO). */
  at: string;
}

/** The package root (the folder with package.json), from `bench/` or `dist/bench/`. */
export function packageRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`package.json not found above ${from}`);
    dir = up;
  }
  return dir;
}

export function machineInfo(): BenchReport['machine'] {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    model: cpus[0]?.model.trim() ?? 'unknown',
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

export function versions(root = packageRoot()): BenchReport['versions'] {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  return {
    node: process.versions.node,
    redisServer: /v=([\d.]+)/.exec(r.stdout ?? '')?.[1] ?? 'not installed',
    canopy: pkg.version,
  };
}

/** Writes `bench/results/<name>.json` under the package root; returns its path. */
export function writeReport(
  name: string,
  figures: Record<string, number>,
  root = packageRoot(),
  loadAvg1mAtStart: number | null = null,
): string {
  const report: BenchReport = {
    figures,
    ratios: ratiosFor(name, figures),
    loadAvg1mAtStart,
    at: new Date().toISOString(),
    machine: machineInfo(),
    versions: versions(root),
  };
  const dir = path.join(root, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  return file;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}
