import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFrame, type CanFrame } from '../../../src/can/frame.js';
import type { FrameSource, SourceStats } from '../../../src/can/sources/types.js';
import { start as startScanner } from '../../../src/services/scanner/index.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { startPostgres } from '../../support/postgres.js';
import { openStore } from '../../../src/store/index.js';
import { start as startWorker } from '../../../src/services/worker/index.js';
import { encodePt100 } from '../../../src/can/protocol.js';
import { quietLogger, rawClient, waitFor, xaddFrames } from './helpers.js';
import { present } from '../../support/narrow.js';

/** A source of numbered frames (sequence number in bytes 0–3), one batch every `tickMs`. */
class CountingSource implements FrameSource {
  readonly kind = 'pipe' as const;
  seq = 0;
  #closed = false;
  constructor(
    readonly perBatch: number,
    readonly tickMs: number,
  ) {}
  async *batches(): AsyncIterable<CanFrame[]> {
    while (!this.#closed) {
      const batch: CanFrame[] = [];
      for (let i = 0; i < this.perBatch; i++) {
        const s = this.seq++;
        batch.push(makeFrame(0x123, [s & 0xff, (s >> 8) & 0xff, (s >> 16) & 0xff, (s >> 24) & 0xff], Date.now()));
      }
      yield batch;
      await new Promise((r) => setTimeout(r, this.tickMs));
    }
  }
  async close() {
    this.#closed = true;
  }
  stats(): SourceStats {
    return { frames: this.seq, batches: 0, badLines: {}, errorFrames: 0, remoteFrames: 0 };
  }
}

describe('failure behaviour', () => {
  it('redis-server killed mid-run: the scanner spools, and after restart every frame reaches the stream once, in order', async () => {
    const redis = await startRedis({ aof: true, extraConfig: ['appendfsync always'] });
    const source = new CountingSource(20, 10);
    const scanner = await startScanner({
      source,
      redisUrl: redis.url,
      useRedis: true,
      spoolDir: path.join(tempDir(), 'spool'),
      stream: 'can:raw',
      trim: { maxLen: 10_000_000 },
      logger: quietLogger(),
    });
    await waitFor('frames flowing', () => scanner.stats().direct > 200);
    await redis.kill();
    await waitFor('frames spooled', () => scanner.stats().spooled > 200);
    await redis.restart();
    await waitFor('spool replayed', () => scanner.stats().replayed > 0 && scanner.stats().pending === 0, 30_000);
    await scanner.stop();
    const produced = source.seq;

    const raw = await rawClient(redis.url);
    const entries = present(await raw.xRange('can:raw', '-', '+'), 'the XRANGE reply');
    const seqs = entries.map((e) => {
      const b = e.message.data!.split(' ').map((h) => parseInt(h, 16));
      return b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
    });
    expect(seqs.length).toBe(produced);
    expect(seqs).toEqual(Array.from({ length: produced }, (_, i) => i));
    // exactly the contract fields
    expect(Object.keys(entries[0]!.message).sort()).toEqual(['data', 'dlc', 'id', 'ts']);
    expect(entries[0]!.message.id).toBe('0x123');
    raw.destroy();
  });

  it('Redis unreachable at start: the scanner spools at once, then joins the fabric and replays when Redis comes up', async () => {
    const redis = await startRedis();
    await redis.kill();
    const source = new CountingSource(10, 10);
    const scanner = await startScanner({
      source,
      redisUrl: redis.url,
      useRedis: true,
      spoolDir: path.join(tempDir(), 'spool'),
      stream: 'can:raw',
      trim: { maxLen: 1_000_000 },
      logger: quietLogger(),
    });
    await waitFor('frames spooled', () => scanner.stats().spooled >= 100);
    expect(scanner.stats().direct).toBe(0);
    await redis.restart();
    await waitFor('spool replayed', () => scanner.stats().replayed >= 100 && scanner.stats().pending === 0, 30_000);
    const raw = await rawClient(redis.url);
    await waitFor('heartbeat', async () => (await raw.keys('heartbeat:*scanner*')).length === 1);
    await scanner.stop();
    expect(await raw.xLen('can:raw')).toBe(source.seq);
    raw.destroy();
  });

  it('store stopped mid-run: the stream holds the backlog, live keys keep flowing, and every frame is stored after it returns', async () => {
    const redis = await startRedis();
    const pg = await startPostgres();
    const store = await openStore(await pg.createDatabase());
    const raw = await rawClient(redis.url);
    const worker = await startWorker({
      redisUrl: redis.url,
      databaseUrl: 'unused',
      store,
      blockMs: 100,
      logger: quietLogger(),
    });
    let t = Date.now() - 100_000;
    let sent = 0;
    const send = async (n: number) => {
      const frames: CanFrame[] = [];
      for (let i = 0; i < n; i++) frames.push(encodePt100(1, 20 + (sent % 10) / 10, 18, 0, t++));
      sent += n;
      await xaddFrames(raw, frames);
      return t - 1;
    };
    await send(100);
    await waitFor('first frames stored', async () => (await store.countMessages()) === 100);
    await pg.stop();
    for (let i = 0; i < 5; i++) {
      const last = await send(50);
      await waitFor(
        'live key follows while the store is down',
        async () => Number(await raw.get('sensor:dry_bulb_f:ts')) === last,
      );
    }
    const pending = (await raw.sendCommand(['XPENDING', 'can:raw', 'can-worker'])) as unknown[];
    expect(Number(pending[0])).toBe(250);
    expect(worker.stats().storeFailures).toBeGreaterThan(0);
    await pg.restart();
    await waitFor('backlog stored', async () => (await store.countMessages().catch(() => 0)) === sent, 60_000);
    await waitFor(
      'backlog acked',
      async () => Number(((await raw.sendCommand(['XPENDING', 'can:raw', 'can-worker'])) as unknown[])[0]) === 0,
    );
    await worker.stop();
    await store.close();
    raw.destroy();
  });

  it('store down longer than the memory bound: the worker stops reading, the stream keeps the rest, nothing is lost', async () => {
    const redis = await startRedis();
    const pg = await startPostgres();
    const store = await openStore(await pg.createDatabase());
    const raw = await rawClient(redis.url);
    const worker = await startWorker({
      redisUrl: redis.url,
      databaseUrl: 'unused',
      store,
      batchSize: 50,
      blockMs: 100,
      maxHeldFrames: 100,
      logger: quietLogger(),
    });
    await pg.stop();
    const t0 = Date.now() - 10_000;
    const frames = Array.from({ length: 1000 }, (_, i) => encodePt100(1, 20 + (i % 10) / 10, 18, 0, t0 + i));
    await xaddFrames(raw, frames);
    const group = async () => {
      const info = (await raw.sendCommand(['XINFO', 'GROUPS', 'can:raw'])) as unknown[];
      const g = info[0] as Record<string, unknown> | unknown[];
      const get = (k: string) => Number(Array.isArray(g) ? g[g.indexOf(k) + 1] : g[k]);
      return { pending: get('pending'), lag: get('lag') };
    };
    await waitFor('reading paused at the bound', async () => (await group()).pending >= 100);
    await new Promise((r) => setTimeout(r, 1000));
    const paused = await group();
    // held: under the bound before the last batch was added (≤ 100 + 50 − 1), plus one batch in
    // hand that waits to be retried; the rest waits unread in the stream
    expect(paused.pending).toBeLessThanOrEqual(200);
    expect(paused.lag).toBeGreaterThanOrEqual(800);
    expect(worker.stats().held).toBeLessThanOrEqual(149);
    await pg.restart();
    await waitFor('everything stored', async () => (await store.countMessages().catch(() => 0)) === 1000, 60_000);
    await waitFor('everything acked', async () => {
      const g = await group();
      return g.pending === 0 && g.lag === 0;
    });
    await worker.stop();
    await store.close();
    raw.destroy();
  });
});
