import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, StoreError, type ReadingRow, type Store, type StoreLogger } from '../../src/store/index.js';
import { startPostgresWithReplica, type PostgresWithReplica } from '../support/postgres-replica.js';
import { tempDir } from '../support/tmp.js';
import { bearer, getJson, startApi } from '../services/api/helpers.js';

const T0 = Date.UTC(2024, 0, 15);
const SENSOR = 'dry_bulb_f';

/** Readings `from` … `from + n − 1` (one a second) of the sensor, value = index. */
function readings(from: number, n: number): ReadingRow[] {
  return Array.from({ length: n }, (_, k) => ({
    streamId: `${T0 + (from + k) * 1000}-${from + k}`,
    time: T0 + (from + k) * 1000,
    sensor: SENSOR,
    value: from + k,
    location: 'Flower Room',
    cluster: 'front',
  }));
}

/** Polls `fn` until it returns true; fails naming `what` after `timeoutMs`. */
async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function sql(url: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/** Pauses replay on the replica and waits until it is paused (not merely asked to). */
async function pauseReplay(): Promise<void> {
  await sql(pair.replica.url, 'SELECT pg_wal_replay_pause()');
  await until('replay paused', async () => {
    const c = new pg.Client({ connectionString: pair.replica.url });
    await c.connect();
    try {
      return (await c.query<{ s: string }>('SELECT pg_get_wal_replay_pause_state() AS s')).rows[0]?.s === 'paused';
    } finally {
      await c.end();
    }
  });
}

/** Readings of the whole range as the store's history counts them (one bucket). */
async function stored(store: Store): Promise<number> {
  const h = await store.history({ sensor: SENSOR, from: T0, to: T0 + 86_400_000, points: 1 });
  return h.reduce((n, b) => n + b.count, 0);
}

/** A logger that keeps what it was told. */
function recorder(): StoreLogger & { lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  return {
    lines,
    info: (_o, msg) => lines.push({ level: 'info', msg }),
    warn: (_o, msg) => lines.push({ level: 'warn', msg }),
  };
}

let pair: PostgresWithReplica;
let urls: { primaryUrl: string; replicaUrl: string };
let store: Store;
const log = recorder();

beforeAll(async () => {
  pair = await startPostgresWithReplica();
  urls = await pair.createDatabase();
  store = await openStore(urls.primaryUrl, {
    readUrl: urls.replicaUrl,
    readRetryMs: 200,
    sweepIntervalMs: 0,
    logger: log,
  });
}, 120_000);

afterAll(async () => {
  await store?.close();
});

describe('DATABASE_READ_URL: the read side on a streaming replica', () => {
  it('says at open where reads go; writes on the primary are read back from the replica once replayed', async () => {
    expect(log.lines).toContainEqual({ level: 'info', msg: 'store reads: the read replica (DATABASE_READ_URL)' });
    await store.writeBatch({ messages: [], readings: readings(0, 100) });
    await until('100 readings on the replica', async () => (await stored(store)) === 100);
    const page = await store.exportPage({ sensors: [SENSOR], from: T0, to: T0 + 100_000, skip: 0, limit: 1000 });
    expect(page.map((r) => r.value)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // the cursor export (constant memory) reads the replica too
    const replicaReads = (await store.readStatus()).reads.replica;
    let streamed = 0;
    for await (const r of store.exportReadings({ sensors: [SENSOR], from: T0, to: T0 + 100_000 })) {
      expect(r.value).toBe(streamed++);
    }
    expect(streamed).toBe(100);
    expect((await store.readStatus()).reads.replica).toBe(replicaReads + 1);
    const s = await store.readStatus();
    expect(s.target).toBe('replica');
    expect(s.reads.replica).toBeGreaterThan(0);
    expect(s.fallbacks).toBe(0);
    expect(s.replica).toMatchObject({ up: true, inRecovery: true, streaming: true });
    expect(s.replica?.server).toBe(`127.0.0.1:${pair.replica.port}/${new URL(urls.replicaUrl).pathname.slice(1)}`);
  });

  it('replay paused on the replica: new rows reach the primary at once and the read side only after replay', async () => {
    await pauseReplay();
    try {
      await store.writeBatch({ messages: [], readings: readings(100, 50) });
      await store.addJournalEntry({ location: 'Flower Room', text: 'Raised the lights', by: 'grower' });
      // the primary has them (a store without a read URL reads there)
      const direct = await openStore(urls.primaryUrl, { sweepIntervalMs: 0 });
      try {
        expect(await stored(direct)).toBe(150);
        expect(await direct.listJournal()).toHaveLength(1);
      } finally {
        await direct.close();
      }
      // the read side does not, and the replica reports the lag
      await until('the paused replica to report lag', async () => ((await store.readStatus()).replica?.lagMs ?? 0) > 0);
      expect(await stored(store)).toBe(100);
      expect(await store.listJournal()).toEqual([]);
      expect(await store.countExport({ sensors: [SENSOR], from: T0, to: T0 + 86_400_000 }, 1e6)).toBe(100);
    } finally {
      await sql(pair.replica.url, 'SELECT pg_wal_replay_resume()');
    }
    await until('the rows replayed', async () => (await stored(store)) === 150);
    expect((await store.listJournal()).map((e) => e.text)).toEqual(['Raised the lights']);
    await until('lag back to 0', async () => (await store.readStatus()).replica?.lagMs === 0);
    expect((await store.readStatus()).fallbacks).toBe(0);
  });

  it('the API serves history and export from the replica, writes the journal on the primary, and shows the lag', async () => {
    const { api } = await startApi({
      databaseUrl: urls.primaryUrl,
      databaseReadUrl: urls.replicaUrl,
      tokens: 'viewer@v:viewer-token-for-tests-0123456789,operator@grower:operator-token-for-replica-tests-1',
    });
    const history = async () => {
      const r = await getJson(api, `/api/sensors/${SENSOR}/history?from=${T0}&to=${T0 + 86_400_000}&points=1`);
      expect(r.status).toBe(200);
      return (r.body.buckets as Array<{ count: number }>).reduce((n, b) => n + b.count, 0);
    };
    const exported = async () => {
      const res = await fetch(`${api.url}/api/export?sensors=${SENSOR}&from=${T0}&to=${T0 + 86_400_000}&format=json`, {
        headers: bearer(),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as unknown[]).length;
    };
    expect(await history()).toBe(150);
    const health = await getJson(api, '/health');
    expect(health.status).toBe(200);
    expect(health.body.reads).toMatchObject({ target: 'replica', fallbacks: 0, replica: { up: true, lagMs: 0 } });

    await pauseReplay();
    try {
      // written on the primary by someone else (the worker): not on the API's read side yet
      const writer = await openStore(urls.primaryUrl, { sweepIntervalMs: 0 });
      await writer.writeBatch({ messages: [], readings: readings(150, 25) });
      await writer.close();
      // the journal POST is a write: it succeeds on the primary while the replica is frozen
      const post = await fetch(`${api.url}/api/journal`, {
        method: 'POST',
        headers: { authorization: 'Bearer operator-token-for-replica-tests-1', 'content-type': 'application/json' },
        body: JSON.stringify({ location: 'Veg Room', text: 'Transplanted' }),
      });
      expect(post.status).toBe(201);
      await until('/health to report the lag', async () => {
        const h = await getJson(api, '/health');
        return ((h.body.reads as { replica: { lagMs: number } }).replica.lagMs ?? 0) > 0;
      });
      expect(await history()).toBe(150);
      expect(await exported()).toBe(150);
      const journal = await getJson(api, '/api/journal');
      expect((journal.body.entries as unknown[]).length).toBe(1);
      const metrics = await (await fetch(`${api.url}/metrics`, { headers: bearer() })).text();
      expect(metrics).toMatch(/^canopy_store_replica_up 1$/m);
      expect(Number(/^canopy_store_replica_lag_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
      expect(Number(/^canopy_store_reads_total\{server="replica"\} (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    } finally {
      await sql(pair.replica.url, 'SELECT pg_wal_replay_resume()');
    }
    await until('the API to read the replayed rows', async () => (await history()) === 175);
    expect(await exported()).toBe(175);
    const journal = await getJson(api, '/api/journal');
    expect((journal.body.entries as Array<{ text: string }>).map((e) => e.text)).toContain('Transplanted');
    await api.stop();
  });

  it('replica down: reads fall back to the primary (counted, logged once), and return to the replica when it is back', async () => {
    const before = await store.readStatus();
    await pair.replica.stop('immediate');
    try {
      for (let i = 0; i < 5; i++) expect(await stored(store)).toBe(175);
      const page = await store.exportPage({ sensors: [SENSOR], from: T0, to: T0 + 86_400_000, skip: 170, limit: 10 });
      expect(page.map((r) => r.value)).toEqual([170, 171, 172, 173, 174]);
      const down = await store.readStatus();
      expect(down.replica).toMatchObject({ up: false, lagMs: null });
      expect(down.fallbacks).toBeGreaterThanOrEqual(before.fallbacks + 6);
      expect(down.reads.primary).toBe(before.reads.primary + (down.fallbacks - before.fallbacks));
      expect(log.lines.filter((l) => l.msg === 'read replica unavailable: reads go to the primary')).toHaveLength(1);
    } finally {
      await pair.replica.start();
    }
    const fallbacks = (await store.readStatus()).fallbacks;
    await until('reads back on the replica', async () => {
      const replicaReads = (await store.readStatus()).reads.replica;
      await stored(store);
      return (await store.readStatus()).reads.replica > replicaReads;
    });
    expect(log.lines.filter((l) => l.msg === 'read replica back: reads go to it again')).toHaveLength(1);
    const after = await store.readStatus();
    expect(after.replica).toMatchObject({ up: true, inRecovery: true });
    // nothing more fell back once it answered again
    expect(after.fallbacks).toBeLessThanOrEqual(fallbacks + 1);
  });

  it('a replica that accepts connections but never answers: the probe gives up and reads go to the primary', async () => {
    // a connect timeout far beyond the test's: without the probe's own limit, nothing here would return
    const patient = await openStore(urls.primaryUrl, {
      readUrl: urls.replicaUrl,
      connectTimeoutMs: 120_000,
      sweepIntervalMs: 0,
      autoMigrate: false,
    });
    pair.replica.freeze();
    try {
      const s = await patient.readStatus(500);
      expect(s.replica).toMatchObject({ up: false, lagMs: null });
      expect(s.replica?.error).toMatch(/500 ms/);
      // marked down: the next reads do not wait for it
      expect(await stored(patient)).toBe(175);
      expect((await patient.readStatus(500)).fallbacks).toBeGreaterThanOrEqual(1);
    } finally {
      pair.replica.thaw();
    }
    await patient.close();
  });

  it('the API with its replica down: /health stays 200 and says so; /metrics counts the fallbacks', async () => {
    const { api } = await startApi({ databaseUrl: urls.primaryUrl, databaseReadUrl: urls.replicaUrl });
    await pair.replica.stop('immediate');
    try {
      const h = await getJson(api, `/api/sensors/${SENSOR}/history?from=${T0}&to=${T0 + 86_400_000}&points=1`);
      expect(h.status).toBe(200);
      expect((h.body.buckets as Array<{ count: number }>)[0]?.count).toBe(175);
      const health = await getJson(api, '/health');
      expect(health.status).toBe(200);
      expect(health.body.status).toBe('ok');
      expect(health.body.reads).toMatchObject({ target: 'replica', replica: { up: false } });
      expect((health.body.reads as { fallbacks: number }).fallbacks).toBeGreaterThanOrEqual(1);
      const metrics = await (await fetch(`${api.url}/metrics`, { headers: bearer() })).text();
      expect(metrics).toMatch(/^canopy_store_replica_up 0$/m);
      expect(Number(/^canopy_store_read_fallbacks_total (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    } finally {
      await pair.replica.start();
      await api.stop();
    }
  });
});

describe('DATABASE_READ_URL: configuration', () => {
  it('is read beside DATABASE_URL by the API, and is a secret that may come from a file', async () => {
    const { resolveApiOptions } = await import('../../src/services/api/options.js');
    const { SECRET_VARIABLES } = await import('../../src/config/env.js');
    const env = { DATABASE_URL: 'postgres://w@primary/canopy', DATABASE_READ_URL: 'postgres://r@replica/canopy' };
    expect(resolveApiOptions({}, env)).toMatchObject({
      databaseUrl: 'postgres://w@primary/canopy',
      databaseReadUrl: 'postgres://r@replica/canopy',
    });
    expect(resolveApiOptions({}, { DATABASE_URL: 'postgres://w@primary/canopy' }).databaseReadUrl).toBeUndefined();
    expect(SECRET_VARIABLES).toContain('DATABASE_READ_URL');
  });

  it('a read URL that is not postgres:// is refused at once (STORE_CONFIG, no password in the message)', async () => {
    const err = await openStore('sqlite::memory:', { readUrl: 'mysql://reader:s3cret@replica/canopy' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('STORE_CONFIG');
    expect((err as StoreError).message).not.toContain('s3cret');
  });

  it('with SQLite the read URL is ignored, and the log says reads stay on the file', async () => {
    const lines = recorder();
    const s = await openStore(`sqlite:${path.join(tempDir(), 'canopy.db')}`, {
      readUrl: urls.replicaUrl,
      logger: lines,
      sweepIntervalMs: 0,
    });
    try {
      expect(lines.lines).toEqual([
        { level: 'warn', msg: 'store reads: the SQLite file (DATABASE_READ_URL is ignored with SQLite)' },
      ]);
      expect(await s.readStatus()).toEqual({
        target: 'primary',
        reads: { replica: 0, primary: 0 },
        fallbacks: 0,
        replica: null,
      });
    } finally {
      await s.close();
    }
  });
});
