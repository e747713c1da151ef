import { WORKER_STATS } from '../../contracts/names.js';
import type { Connection } from '../../bus/connection.js';
import type { FrameProcessor } from '../../cea/processor.js';
import type { PipelineStats } from './pipeline.js';

/**
 * Publishes the worker's counters to the hash `stats:worker` (HINCRBY of
 * the increments since the last flush, once a second), so every worker of
 * the group adds to one total that the api's /metrics and
 * `canopy monitor redis` read. Fields: frames, stored, duplicates,
 * dead_lettered, readings, rejected, rejected_<reason>, store_failures.
 */
export class WorkerMetrics {
  static readonly KEY = WORKER_STATS;
  readonly #conn: Connection;
  readonly #read: () => PipelineStats;
  readonly #processor: FrameProcessor;
  #last: Record<string, number> = {};
  #timer: NodeJS.Timeout | undefined;

  constructor(conn: Connection, read: () => PipelineStats, processor: FrameProcessor) {
    this.#conn = conn;
    this.#read = read;
    this.#processor = processor;
  }

  start(intervalMs = 1000): void {
    this.#timer = setInterval(() => void this.flush().catch(() => undefined), intervalMs);
    this.#timer.unref();
  }

  snapshot(): Record<string, number> {
    const s = this.#read();
    const out: Record<string, number> = {
      frames: s.frames,
      stored: s.stored,
      duplicates: s.duplicates,
      dead_lettered: s.deadLettered,
      readings: s.readings,
      rejected: s.rejected,
      store_failures: s.storeFailures,
    };
    for (const [k, v] of this.#processor.rejections.byReason) out[`rejected_${k}`] = v;
    return out;
  }

  async flush(): Promise<void> {
    const now = this.snapshot();
    const incr: [string, number][] = [];
    for (const [k, v] of Object.entries(now)) {
      const d = v - (this.#last[k] ?? 0);
      if (d !== 0) incr.push([k, d]);
    }
    if (incr.length === 0) return;
    await this.#conn.run('HINCRBY stats:worker', async (c) => {
      const m = c.multi();
      for (const [k, d] of incr) m.hIncrBy(WorkerMetrics.KEY, k, d);
      await m.execAsPipeline();
    });
    this.#last = now;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush().catch(() => undefined);
  }
}
