/**
 * `npm run bench -- gateway`: 200 simulated edge relays at 100 Hz, 32 channels each, through
 * `canopy gateway` (its own process) to one consumer that subscribes to every user's raw
 * channel, and predictions back to every relay at 1 Hz per user.
 *
 * Figures: messages/s through the gateway, relay → consumer latency p50/p99/max, prediction
 * consumer → relay latency p50/p99, messages lost both ways (must be 0), gateway CPU.
 * The relays run in 2 child processes (100 each): one process on this 2-core machine cannot
 * generate 20,000 WebSocket messages/s alongside the consumer. Latencies compare
 * `performance.timeOrigin + performance.now()` across processes on one machine.
 *
 * Then the capacity: the offered rate stepped up (BENCH_GATEWAY_STEPS msgs/s, no predictions)
 * until two steps in a row miss p99 ≤ 20 ms with nothing lost, through `canopy gateway` (capacity_msgs_per_s) and
 * through a bare `ws` server that decodes the same messages and PUBLISHes them pipelined
 * (bare_capacity_msgs_per_s, bench/lib/bare-servers.ts), each with the load generators' CPU.
 *
 * Environment: BENCH_GATEWAY_RELAYS (200), BENCH_GATEWAY_HZ (100), BENCH_GATEWAY_SECONDS (15),
 * BENCH_GATEWAY_PROCS (2), BENCH_GATEWAY_STEPS, BENCH_GATEWAY_STEP_SECONDS (10), BENCH_GATEWAY_MAIN.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserChannels } from '../src/client/channels.js';
import { spawnService } from './lib/spawn-service.js';
import { RelayClient } from '../src/client/relay.js';
import { UserCodec, type RawMessage } from '../src/contracts/user-channels.js';
import { freePort, waitForPort } from '../src/ops/ports.js';
import { RedisProcess } from '../src/ops/redis-process.js';
import { cpuSeconds } from '../src/util/procstat.js';
import { forkBare, type BareServer } from './lib/fork-bare.js';
import { percentile } from './report.js';

const CHANNELS = 32;

const now = () => performance.timeOrigin + performance.now();
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const userId = (i: number) => `u${String(i).padStart(3, '0')}`;
const tokenOf = (i: number) => `bench-token-${i}-0123456789abcdef`;

interface RelayReport {
  sent: Record<string, number>;
  dropped: number;
  predictions: Record<string, number>;
  predLatencies: number[];
  connects: number;
}

/** Child process: relays [from, to) send at `hz` for `seconds`, then report. */
async function relayChild(): Promise<void> {
  const [, , , url, fromS, toS, hzS, secondsS, allS] = process.argv;
  const from = Number(fromS);
  const to = Number(toS);
  const hz = Number(hzS);
  const seconds = Number(secondsS);
  const all = Number(allS);
  const codec = new UserCodec();
  const relays: RelayClient[] = [];
  const report: RelayReport = { sent: {}, dropped: 0, predictions: {}, predLatencies: [], connects: 0 };
  let measuring = false;
  let go = { startAt: Infinity, warmupMs: 0 };
  for (let i = from; i < to; i++) {
    const user = userId(i);
    const r = new RelayClient({ url: url!, user, token: tokenOf(i) });
    r.on('prediction', (p) => {
      if (!measuring) return;
      report.predictions[user] = (report.predictions[user] ?? 0) + 1;
      if ((p.data.t as number) >= go.startAt + go.warmupMs) report.predLatencies.push(now() - (p.data.t as number));
    });
    await r.start();
    relays.push(r);
    report.sent[user] = 0;
  }
  const names = Array.from({ length: CHANNELS }, (_, k) => `Ch${k}`);
  process.send!({ type: 'ready' });
  go = await new Promise<{ startAt: number; warmupMs: number }>((resolve) =>
    process.on('message', (m: { type: string; startAt: number; warmupMs: number }) => m.type === 'go' && resolve(m)),
  );
  while (now() < go.startAt) await new Promise((r) => setTimeout(r, 1));
  measuring = true;
  const period = 1000 / hz;
  const total = Math.round(seconds * hz);
  // Relay i sends at startAt + (i / all) × period + k × period: the relays' phases are spread over
  // the period as independent devices' are, so the offered load is a rate and not one burst of
  // every relay at once (a burst's length, not the rate, would set the p99).
  const phase = relays.map((_, j) => ((from + j) / all) * period);
  const ticks = relays.map(() => 0);
  let finished = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(
      () => {
        const elapsed = now() - go.startAt;
        for (let j = 0; j < relays.length; j++) {
          if (ticks[j]! >= total) continue;
          const due = Math.min(total, Math.floor((elapsed - phase[j]!) / period) + 1);
          for (; ticks[j]! < due; ticks[j]!++) {
            const channels: Record<string, number> = {};
            for (const n of names) channels[n] = Math.random() * 200 - 100;
            const msg: RawMessage & { seq: number; t: number } = {
              type: 'raw',
              timestamp: Date.now() / 1000,
              seq: ticks[j]!,
              t: now(),
              channels,
            };
            relays[j]!.sendEncoded(codec.encode(msg));
            report.sent[relays[j]!.options.user]!++;
          }
          if (ticks[j]! >= total) finished++;
        }
        if (finished >= relays.length) {
          clearInterval(timer);
          resolve();
        }
      },
      Math.max(1, Math.min(Math.floor(period / 2), Math.floor(period / relays.length))),
    );
  });
  for (const r of relays) {
    report.dropped += r.stats.dropped;
    report.connects += r.stats.connects;
  }
  process.send!({ type: 'sent', report });
  // predictions may still be on their way: answer report requests until told to stop
  process.on('message', (m: { type: string }) => {
    if (m.type === 'report') process.send!({ type: 'report', report });
    if (m.type === 'stop') {
      measuring = false;
      void Promise.all(relays.map((r) => r.close())).then(() => process.exit(0));
    }
  });
}

export interface MeasureOptions {
  relaysN: number;
  hz: number;
  seconds: number;
  procs: number;
  warmupMs: number;
  /** `canopy gateway`, or the bare ws server of bench/lib/bare-servers.ts. */
  server: 'gateway' | 'bare';
  /** Predictions back to every relay at 1 Hz (the gateway only: the bare server has no back channel). */
  predictions: boolean;
  /**
   * `canopy gateway` processes on the one Redis (default 1; the gateway only): relay process p
   * connects to gateway p mod n, CPU and counters are their sums (bench/scale/gateways.ts).
   */
  gateways?: number;
}

/** One run: relays at `hz` for `seconds` through the server(s) to one consumer. */
export async function measure(o: MeasureOptions): Promise<Record<string, number>> {
  const { relaysN, hz, seconds, procs, warmupMs } = o;
  const load1 = os.loadavg()[0] ?? NaN;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-gateway-'));
  const redis = await RedisProcess.start({ dir, aof: false, rdb: false });
  const nGw = o.server === 'gateway' ? (o.gateways ?? 1) : 1;
  const ports: number[] = [];
  for (let i = 0; i < nGw; i++) ports.push(await freePort());
  const tokens = Array.from({ length: relaysN }, (_, i) => `${userId(i)}:${tokenOf(i)}`).join(',');
  const gwNodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean); // e.g. --cpu-prof
  let bare: BareServer | undefined;
  const gws: ChildProcess[] = [];
  if (o.server === 'bare') {
    bare = await forkBare('gateway', [redis.url]);
    gws.push(bare.child);
    ports[0] = bare.port;
  } else {
    for (const port of ports) {
      gws.push(
        spawnService(['gateway', '--port', String(port)], {
          env: { REDIS_URL: redis.url, CANOPY_GATEWAY_TOKENS: tokens, LOG_LEVEL: 'warn' },
          stdio: ['ignore', 'inherit', 'inherit'],
          extraNodeArgs: gwNodeArgs,
        }),
      );
    }
  }
  const gwCpu = () => gws.reduce((sum, g) => sum + cpuSeconds(g.pid!), 0);
  const children: ChildProcess[] = [];
  let consumer: UserChannels | undefined;
  try {
    for (const port of ports) await waitForPort(port, '127.0.0.1', 120_000);
    consumer = await UserChannels.connect({ redis: { url: redis.url } });
    const c = consumer;
    const lat: number[] = [];
    const received = new Map<string, number>();
    const outOfOrder = { n: 0 };
    const lastSeq = new Map<string, number>();
    let measuring = false;
    let measureFrom = Infinity;
    for (let i = 0; i < relaysN; i++) {
      const user = userId(i);
      received.set(user, 0);
      await c.subscribe(user, 'raw', (m) => {
        const msg = m as RawMessage & { seq: number; t: number };
        if (!measuring) return;
        if (msg.t >= measureFrom) lat.push(now() - msg.t);
        received.set(user, received.get(user)! + 1);
        const prev = lastSeq.get(user) ?? -1;
        if (msg.seq !== prev + 1) outOfOrder.n++;
        lastSeq.set(user, msg.seq);
      });
    }
    // relays in child processes
    const per = Math.ceil(relaysN / procs);
    const reports: RelayReport[] = new Array<RelayReport>(procs);
    const ready: Promise<void>[] = [];
    const done: Promise<void>[] = [];
    for (let p = 0; p < procs; p++) {
      const from = p * per;
      const to = Math.min(relaysN, from + per);
      const ch = fork(fileURLToPath(import.meta.url), [
        'relays',
        `ws://127.0.0.1:${ports[p % ports.length]!}`,
        String(from),
        String(to),
        String(hz),
        String(seconds),
        String(relaysN),
      ]);
      children.push(ch);
      ready.push(new Promise((r) => ch.on('message', (m: { type: string }) => m.type === 'ready' && r())));
      done.push(
        new Promise((resolve, reject) => {
          ch.on('message', (m: { type: string; report: RelayReport }) => {
            if (m.type === 'sent') {
              reports[p] = m.report;
              resolve();
            } else if (m.type === 'report') reports[p] = m.report;
          });
          ch.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`relay process exited with ${code}`))));
        }),
      );
    }
    await Promise.all(ready);
    const startAt = now() + 500;
    measureFrom = startAt + warmupMs;
    for (const ch of children) ch.send({ type: 'go', startAt, warmupMs });
    while (now() < startAt) await new Promise((r) => setTimeout(r, 5));
    measuring = true;
    const cpu0 = gwCpu();
    const redisCpu0 = cpuSeconds(redis.pid!);
    const selfCpu0 = process.cpuUsage();
    const t0 = now();
    // predictions: 1 Hz per user, spread over the second
    let predsPublished = 0;
    const loadGen0 = children.reduce((sum, ch) => sum + cpuSeconds(ch.pid!), 0);
    const predTimer = setInterval(() => {
      if (!o.predictions) return;
      const slot = Math.floor((now() - startAt) / 100) % 10;
      for (let i = slot; i < relaysN; i += 10) {
        predsPublished++;
        void c
          .publishPrediction(userId(i), { prediction_type: 'workload', data: { t: now(), workload: Math.random() } })
          .catch(() => predsPublished--);
      }
    }, 100);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    clearInterval(predTimer);
    const cpu1 = gwCpu();
    const redisCpu1 = cpuSeconds(redis.pid!);
    const selfCpu = process.cpuUsage(selfCpu0);
    const loadGen1 = children.reduce((sum, ch) => sum + cpuSeconds(ch.pid!), 0);
    const elapsed = (now() - t0) / 1000;
    await Promise.all(done);
    const sent = reports.reduce((s, r) => s + Object.values(r.sent).reduce((a, b) => a + b, 0), 0);
    const total = () => [...received.values()].reduce((a, b) => a + b, 0);
    const predsTotal = () => reports.reduce((s, r) => s + Object.values(r.predictions).reduce((a, b) => a + b, 0), 0);
    // drain: wait for what is still in flight, until everything arrived or nothing moves for 5 s
    const drain = async (count: () => number, want: number, poll?: () => void) => {
      let last = -1;
      let still = now();
      while (count() < want && now() - still < 5000) {
        poll?.();
        await new Promise((r) => setTimeout(r, 200));
        if (count() !== last) {
          last = count();
          still = now();
        }
      }
    };
    await drain(total, sent);
    await drain(predsTotal, predsPublished, () => children.forEach((ch) => ch.send({ type: 'report' })));
    children.forEach((ch) => ch.send({ type: 'report' }));
    await new Promise((r) => setTimeout(r, 300));
    measuring = false;
    const got = total();
    const predsGot = predsTotal();
    for (const ch of children) ch.send({ type: 'stop' });
    const health = { stats: {} as Record<string, number> };
    if (o.server === 'gateway') {
      for (const port of ports) {
        const h = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { stats: Record<string, number> };
        for (const [k, v] of Object.entries(h.stats)) health.stats[k] = (health.stats[k] ?? 0) + v;
      }
    }
    const predLat = reports.flatMap((r) => r.predLatencies).sort((a, b) => a - b);
    lat.sort((a, b) => a - b);
    return {
      relays: relaysN,
      hz_per_relay: hz,
      channels_per_message: CHANNELS,
      relay_processes: procs,
      seconds,
      warmup_ms: warmupMs,
      messages_sent: sent,
      messages_received: got,
      messages_per_s: round(got / elapsed, 0),
      messages_lost: sent - got,
      out_of_order: outOfOrder.n,
      latency_p50_ms: round(percentile(lat, 50)),
      latency_p99_ms: round(percentile(lat, 99)),
      latency_max_ms: round(lat[lat.length - 1] ?? NaN),
      predictions_published: predsPublished,
      predictions_received: predsGot,
      predictions_lost: predsPublished - predsGot,
      prediction_latency_p50_ms: round(percentile(predLat, 50)),
      prediction_latency_p99_ms: round(percentile(predLat, 99)),
      relay_messages_dropped: reports.reduce((s, r) => s + r.dropped, 0),
      relay_reconnects: reports.reduce((s, r) => s + r.connects, 0) - relaysN,
      gateway_cpu_pct: round(((cpu1 - cpu0) / elapsed) * 100, 1),
      redis_cpu_pct: round(((redisCpu1 - redisCpu0) / elapsed) * 100, 1),
      consumer_cpu_pct: round(((selfCpu.user + selfCpu.system) / 1e6 / elapsed) * 100, 1),
      load_generators_cpu_pct: round(((loadGen1 - loadGen0) / elapsed) * 100, 1),
      gateway_publish_errors: health.stats.publishErrors ?? NaN,
      gateway_closed_rate: health.stats.closedRate ?? NaN,
      gateway_closed_slow: health.stats.closedSlow ?? NaN,
      load_average_1m_at_start: round(load1, 1),
    };
  } finally {
    for (const ch of children) if (ch.exitCode === null) ch.kill('SIGKILL');
    await consumer?.close().catch(() => undefined);
    if (bare) await bare.stop();
    else {
      for (const gw of gws) gw.kill('SIGTERM');
      await Promise.all(gws.map((gw) => new Promise((r) => (gw.exitCode === null ? gw.once('exit', r) : r(0)))));
    }
    await redis.stop();
    if (process.env.BENCH_GATEWAY_REDIS_LOG) {
      process.stderr.write(fs.readFileSync(path.join(dir, 'redis.log'), 'utf8').split('\n').slice(-15).join('\n'));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const env = (name: string, dflt: number) => Number(process.env[name] || dflt);

/**
 * Steps the offered rate (relays × hz) up; a step holds when p99 ≤ 20 ms and
 * nothing is lost. The capacity is the rate received per second at the
 * highest step that held; stepping stops after two misses in a row (one slow
 * second on a shared machine is not the end of the capacity). The steps are
 * about 1.4× apart from 2,000 on, so a ratio of two capacities is read to
 * that precision.
 */
async function capacity(server: 'gateway' | 'bare', base: Omit<MeasureOptions, 'server' | 'hz' | 'predictions'>) {
  const steps = (process.env.BENCH_GATEWAY_STEPS ?? '500,1000,2000,3000,4000,5500,7500,10000,14000,20000,28000,40000')
    .split(',')
    .map(Number)
    .filter((x) => x > 0);
  let best: Record<string, number> | undefined;
  let misses = 0;
  for (const rate of steps) {
    const hz = rate / base.relaysN;
    const f = await measure({ ...base, hz, server, predictions: false });
    const held = f.messages_lost === 0 && f.latency_p99_ms! <= 20;
    process.stderr.write(
      `gateway capacity ${server} ${rate}/s: received ${f.messages_per_s}/s p99 ${f.latency_p99_ms} ms lost ${f.messages_lost} → ${held ? 'held' : 'missed'}\n`,
    );
    if (!held) {
      if (++misses >= 2) break;
      continue;
    }
    misses = 0;
    best = f;
  }
  return best;
}

/**
 * The 200 × 100 Hz run with predictions (BENCH_GATEWAY_MAIN=0 skips it), then
 * capacity_msgs_per_s of the gateway and bare_capacity_msgs_per_s of the bare
 * server (BENCH_GATEWAY_STEPS, offered msgs/s; BENCH_GATEWAY_STEP_SECONDS, 10).
 */
export async function run(): Promise<Record<string, number>> {
  const relaysN = env('BENCH_GATEWAY_RELAYS', 200);
  const procs = env('BENCH_GATEWAY_PROCS', 2);
  /** Latencies of the first seconds (JIT warm-up, connection buffers growing) are not counted; messages are. */
  const warmupMs = env('BENCH_GATEWAY_WARMUP_MS', 2000);
  const figures: Record<string, number> =
    process.env.BENCH_GATEWAY_MAIN === '0'
      ? {}
      : await measure({
          relaysN,
          hz: env('BENCH_GATEWAY_HZ', 100),
          seconds: env('BENCH_GATEWAY_SECONDS', 15),
          procs,
          warmupMs,
          server: 'gateway',
          predictions: true,
        });
  const base = { relaysN, procs, warmupMs, seconds: env('BENCH_GATEWAY_STEP_SECONDS', 10) };
  const gw = await capacity('gateway', base);
  const bare = await capacity('bare', base);
  figures.capacity_msgs_per_s = gw?.messages_per_s ?? 0;
  figures.capacity_p99_ms = gw?.latency_p99_ms ?? NaN;
  figures.capacity_load_generators_cpu_pct = gw?.load_generators_cpu_pct ?? NaN;
  figures.capacity_gateway_cpu_pct = gw?.gateway_cpu_pct ?? NaN;
  figures.bare_capacity_msgs_per_s = bare?.messages_per_s ?? 0;
  figures.bare_capacity_p99_ms = bare?.latency_p99_ms ?? NaN;
  figures.bare_capacity_load_generators_cpu_pct = bare?.load_generators_cpu_pct ?? NaN;
  figures.bare_capacity_server_cpu_pct = bare?.gateway_cpu_pct ?? NaN;
  return figures;
}

// bench/run.ts imports this module and calls run(); the relay processes fork it with `relays`.
if (process.argv[2] === 'relays') await relayChild();
