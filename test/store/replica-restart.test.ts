import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePt100 } from '../../src/can/protocol.js';
import type { CanFrame } from '../../src/can/frame.js';
import { start as startWorker, type WorkerHandle } from '../../src/services/worker/index.js';
import { startPostgresWithReplica, type PostgresWithReplica } from '../support/postgres-replica.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { quietLogger, rawClient, waitFor, xaddFrames, type Raw } from '../services/pipeline/helpers.js';

const T0 = Date.UTC(2024, 0, 15);

/** Frames, each with its own time stamp (`T0 + i` ms): a row's time names its frame. */
function frames(from: number, n: number): CanFrame[] {
  return Array.from({ length: n }, (_, k) => encodePt100(1, 20 + ((from + k) % 10) / 10, 18, 0, T0 + from + k));
}

/** Rows of can_messages on `url`: how many, and how many distinct frames (time stamps). */
async function rows(url: string): Promise<{ total: number; distinct: number; entries: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ total: string; distinct: string; entries: string }>(
      `SELECT count(*) AS total, count(DISTINCT timestamp) AS distinct,
              (SELECT count(*) FROM ingested_entries) AS entries FROM can_messages`,
    );
    const row = r.rows[0]!;
    return { total: Number(row.total), distinct: Number(row.distinct), entries: Number(row.entries) };
  } finally {
    await c.end();
  }
}

const pendingOf = async (raw: Raw) =>
  Number(((await raw.sendCommand(['XPENDING', 'can:raw', 'can-worker'])) as unknown[])[0]);

let pair: PostgresWithReplica;
let redis: TestRedis;
let raw: Raw;
let urls: { primaryUrl: string; replicaUrl: string };
let worker: WorkerHandle | undefined;

beforeAll(async () => {
  [pair, redis] = await Promise.all([startPostgresWithReplica(), startRedis()]);
  urls = await pair.createDatabase();
  raw = await rawClient(redis.url);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  raw?.destroy();
});

describe('the primary restarted or replaced under a running worker', () => {
  it('immediate shutdown of the primary mid-ingest: the worker holds its batches, and every frame is stored exactly once', async () => {
    worker = await startWorker({
      redisUrl: redis.url,
      databaseUrl: urls.primaryUrl,
      consumer: 'worker-a',
      batchSize: 200,
      blockMs: 100,
      logger: quietLogger(),
    });
    const total = 6000;
    let sent = 0;
    const send = async (n: number) => {
      await xaddFrames(raw, frames(sent, n));
      sent += n;
    };
    await send(1000);
    await waitFor('the first frames stored', async () => (await rows(urls.primaryUrl)).total > 0);
    // frames keep coming while the primary dies without a checkpoint (pg_ctl stop -m immediate)
    const producer = (async () => {
      while (sent < total) {
        await send(250);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await pair.primary.stop('immediate');
    await waitFor('a failed store write while the primary is down', () => worker!.stats().storeFailures > 0);
    await pair.primary.start();
    await producer;
    await waitFor('every frame stored', async () => (await rows(urls.primaryUrl)).total >= total, 60_000);
    await waitFor('every entry acked', async () => (await pendingOf(raw)) === 0, 30_000);
    expect(await rows(urls.primaryUrl)).toEqual({ total, distinct: total, entries: total });
    // the replica reconnects to the restarted primary by itself and holds the same rows
    await waitFor('the replica streaming again', async () => (await pair.replicationState()) === 'streaming', 60_000);
    await pair.waitForReplay();
    expect(await rows(urls.replicaUrl)).toEqual({ total, distinct: total, entries: total });
  });

  it('primary lost, replica promoted, the worker pointed at it: the backlog held meanwhile is stored exactly once', async () => {
    const before = (await rows(urls.primaryUrl)).total;
    await pair.waitForReplay();
    await pair.primary.stop('immediate');
    // frames arriving while there is no primary stay pending in the stream
    await xaddFrames(raw, frames(before, 500));
    await waitFor('the worker holding the frames', async () => (await pendingOf(raw)) === 500);
    // what the operator does (docs/scaling-postgres.md): promote the replica, point DATABASE_URL at it, restart
    const c = new pg.Client({ connectionString: pair.replica.url });
    await c.connect();
    await c.query('SELECT pg_promote(true, 60)');
    await c.end();
    await worker!.stop();
    worker = await startWorker({
      redisUrl: redis.url,
      databaseUrl: urls.replicaUrl,
      consumer: 'worker-a',
      batchSize: 200,
      blockMs: 100,
      logger: quietLogger(),
    });
    await xaddFrames(raw, frames(before + 500, 500));
    const total = before + 1000;
    await waitFor(
      'every frame on the promoted server',
      async () => (await rows(urls.replicaUrl)).total >= total,
      60_000,
    );
    await waitFor('every entry acked', async () => (await pendingOf(raw)) === 0, 30_000);
    expect(await rows(urls.replicaUrl)).toEqual({ total, distinct: total, entries: total });
  });
});
