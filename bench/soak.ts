/**
 * `npm run bench -- soak [--seconds=N]`: runs `canopy up` (simulated nodes, a
 * managed Redis, SQLite in a temporary data dir) for N seconds (default 3600;
 * BENCH_SOAK_SECONDS), sampling every process of its tree every
 * BENCH_SOAK_SAMPLE_SECONDS (5): RSS, PSS, open descriptors, pid.
 *
 * Figures (bench/lib/soak-stats.ts): soak_rss_total_mb (peak of the sum over
 * every process, Redis included), soak_pss_total_mb (the same of PSS: what the
 * machine spends, shared pages counted once), soak_rss_slope_mb_per_h_max (the worst
 * process's least-squares slope over the second half), soak_fds_growth (the
 * worst process's descriptor growth over the second half), soak_restarts (a
 * service seen under a new pid), soak_seconds; and per service its last RSS
 * and PSS (soak_rss_<service>_mb, soak_pss_<service>_mb) and second-half slope (soak_slope_<service>_mb_per_h).
 * `npm run bench -- soak-compact` does the same with `canopy up --compact`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { SCANNER_BOUNDS_DEFAULTS } from '../src/config/scanner.js';
import { CAN_RAW } from '../src/contracts/names.js';
import { freePort } from '../src/ops/ports.js';
import { readProcStat } from '../src/util/procstat.js';
import { replyField } from './lib/redis-reply.js';
import { slope, soakFigures, streamFigures, type ProcSample, type StreamSample } from './lib/soak-stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '..', 'src', 'cli', 'main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function secondsFromArgs(argv: string[]): number | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--seconds=')) return Number(a.slice('--seconds='.length));
    if (a === '--seconds') return Number(argv[i + 1]);
  }
  return undefined;
}

/** pid → ppid for every process. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = readProcStat(Number(d)); // undefined: gone meanwhile
    if (stat) out.set(Number(d), stat.ppid);
  }
  return out;
}

function tree(root: number): number[] {
  const pp = parents();
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of pp) if (ppid === out[i]) out.push(pid);
  return out;
}

/** The service a process is: the canopy subcommand, else the executable's name. */
function keyOf(pid: number, root: number): string | undefined {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    if (pid === root) return 'up';
    const i = argv.findIndex((a) => a.endsWith('main.js'));
    if (i >= 0) return argv[i + 1];
    return path.basename(argv[0] ?? 'unknown').split(' ')[0];
  } catch {
    return undefined;
  }
}

/** PSS in MB (see ProcSample.pssMb), NaN when the kernel does not give it. */
function pssOf(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function sample(pid: number): { rssMb: number; pssMb: number; fds: number } | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (!m) return undefined; // a zombie
    return { rssMb: Number(m[1]) / 1024, pssMb: pssOf(pid), fds: fs.readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

/** What Redis holds of can:raw now. */
async function streamSample(port: number): Promise<StreamSample> {
  const c = createClient({ url: `redis://127.0.0.1:${port}` });
  await c.connect();
  try {
    const entries = Number(await c.sendCommand(['XLEN', CAN_RAW]));
    const bytes = Number(await c.sendCommand(['MEMORY', 'USAGE', CAN_RAW, 'SAMPLES', '0']));
    const info = (await c.sendCommand(['XINFO', 'STREAM', CAN_RAW])) as unknown;
    const added = replyField(info, 'entries-added');
    return { entries, bytes, added: added === undefined ? undefined : Number(added) };
  } finally {
    c.destroy();
  }
}

export function run(): Promise<Record<string, number>> {
  return soak(false);
}

/** The soak of `canopy up`, or of `canopy up --compact` (every service in one process). */
export async function soak(compact: boolean): Promise<Record<string, number>> {
  const seconds = secondsFromArgs(process.argv) ?? Number(process.env.BENCH_SOAK_SECONDS || 3600);
  const every = Number(process.env.BENCH_SOAK_SAMPLE_SECONDS || 5);
  const streamMaxLen = process.env.BENCH_SOAK_STREAM_MAXLEN ?? '20000';
  if (!(seconds > 0) || !(every > 0)) throw new Error('soak: --seconds and BENCH_SOAK_SAMPLE_SECONDS must be positive');
  if (!/^\d+$/.test(streamMaxLen))
    throw new Error(
      `soak: BENCH_SOAK_STREAM_MAXLEN must be a whole number of entries (0: the product's default), not ${JSON.stringify(streamMaxLen)}`,
    );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-soak-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CANOPY_DATA_DIR: dir,
    CANOPY_API_PORT: String(await freePort()),
    LOG_LEVEL: 'warn',
  };
  // can:raw fills towards its bound by design (the worker's backlog buffer): a bound the first
  // half reaches leaves the second half's slopes to steady state; streamFigures sizes the default
  if (streamMaxLen !== '0') env.CANOPY_STREAM_MAXLEN = streamMaxLen;
  delete env.REDIS_URL;
  delete env.DATABASE_URL;
  // its own process group, so that whatever is left at the end is stopped with it
  const redisPort = await freePort();
  const args = [CLI, 'up', compact ? '--compact' : '--separate', '--redis-port', String(redisPort)];
  const up = spawn(process.execPath, args, {
    env,
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'up.log'), 'a')],
  });
  const samples: ProcSample[] = [];
  let stream: StreamSample | undefined;
  const t0 = performance.now();
  try {
    for (;;) {
      const t = (performance.now() - t0) / 1000;
      if (up.exitCode !== null) throw new Error(`canopy up exited with ${up.exitCode} after ${Math.round(t)} s`);
      for (const pid of tree(up.pid!)) {
        const key = keyOf(pid, up.pid!);
        const s = key ? sample(pid) : undefined;
        if (key && s) samples.push({ t, key, pid, ...s });
      }
      if (t >= seconds) {
        stream = await streamSample(redisPort);
        break;
      }
      await sleep(Math.min(every * 1000, (seconds - t) * 1000 + 10));
    }
  } finally {
    if (up.exitCode === null) {
      up.kill('SIGINT');
      const stopped = await Promise.race([
        new Promise<boolean>((r) => up.once('exit', () => r(true))),
        sleep(60_000).then(() => false),
      ]);
      if (!stopped) process.kill(-up.pid!, 'SIGKILL');
    }
    if (process.env.BENCH_SOAK_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  }
  const duration = samples.length ? samples[samples.length - 1]!.t : 0;
  const figures: Record<string, number> = {
    ...soakFigures(samples, duration),
    soak_seconds: Math.round(duration),
    ...(stream ? streamFigures(stream, duration, SCANNER_BOUNDS_DEFAULTS.streamMaxLen) : {}),
  };
  for (const key of [...new Set(samples.map((s) => s.key))].sort()) {
    const mine = samples.filter((s) => s.key === key);
    const late = mine.filter((s) => s.t >= duration / 2);
    const k = key.replace(/[^a-z0-9]+/gi, '_');
    figures[`soak_rss_${k}_mb`] = Math.round(mine[mine.length - 1]!.rssMb * 10) / 10;
    const pss = mine[mine.length - 1]!.pssMb;
    if (Number.isFinite(pss)) figures[`soak_pss_${k}_mb`] = Math.round(pss * 10) / 10;
    figures[`soak_slope_${k}_mb_per_h`] =
      Math.round(
        slope(
          late.map((s) => s.t / 3600),
          late.map((s) => s.rssMb),
        ) * 10,
      ) / 10;
  }
  return figures;
}
