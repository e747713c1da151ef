import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { openStore, StoreError } from '../../src/store/index.js';
import { copySqliteToPostgres, migrateSqliteToPostgres } from '../../src/store/migrate/index.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startTimescale } from '../support/timescale.js';
import { tempDir } from '../support/tmp.js';
import { msg } from './contract.js';
import { registerChild } from '../support/cleanup.js';

const CLI = path.resolve('dist/src/cli/main.js');
const dir = tempDir('canopy-migrate-');
let server: TestPostgres;

/** Rows whose decoded_data is not valid JSON (or not storable as JSONB): id → text. */
const BAD = new Map<number, string>();

/** The seed's table, `n` rows, one transaction and one prepared statement. */
function makeSeedDb(file: string, n: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE can_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp REAL NOT NULL, can_id INTEGER NOT NULL, node_id INTEGER,
    message_type TEXT, dlc INTEGER NOT NULL, raw_data TEXT NOT NULL, decoded_data TEXT, created_at TEXT DEFAULT CURRENT_TIMESTAMP)`);
  const ins = db.prepare(
    'INSERT INTO can_messages (timestamp, can_id, node_id, message_type, dlc, raw_data, decoded_data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  db.transaction(() => {
    for (let i = 1; i <= n; i++) {
      const node = (i % 3) + 1;
      const ts = 1_700_000_000 + i * 0.137;
      let decoded: string | null =
        `{"temp_dry_c":${(20 + (i % 500) / 100).toFixed(2)},"temp_wet_c":${(15 + (i % 300) / 100).toFixed(2)},"fault":${i % 2}}`;
      if (i % 9_973 === 0) decoded = `{"temp_dry_c": 2${i}, truncated`;
      else if (i === 4_242) decoded = '{"note":"nul \\u0000 inside"}';
      else if (i === 4_243) decoded = 'not json at all';
      else if (i % 10_007 === 0) decoded = null;
      if (decoded !== null && (i % 9_973 === 0 || i === 4_242 || i === 4_243)) BAD.set(i, decoded);
      const created =
        i === 77 ? 'yesterday' : new Date(Math.floor(ts) * 1000).toISOString().slice(0, 19).replace('T', ' ');
      ins.run(
        ts,
        (node << 8) | 1,
        i % 50_000 === 0 ? null : node,
        i % 50_000 === 0 ? 'UNKNOWN' : 'PT100',
        5,
        'D2 09 6A 07 00',
        decoded,
        created,
      );
    }
  })();
  db.close();
}

function run(args: string[]): Promise<{
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  child: ReturnType<typeof spawn>;
}> & {
  child: ReturnType<typeof spawn>;
} {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DATABASE_URL: '' },
  });
  registerChild(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{
    code: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
    child: typeof child;
  }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, child })));
  return Object.assign(done, { child });
}

async function q<T extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  sql: string,
  params?: unknown[],
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

const big = path.join(dir, 'seed-1m.db');
const small = path.join(dir, 'seed-20k.db');

beforeAll(async () => {
  server = await startPostgres();
  makeSeedDb(big, 1_000_000);
  makeSeedDb(small, 20_000);
}, 180_000);

describe('canopy migrate (SQLite → PostgreSQL)', () => {
  it('copies 1,000,000 rows, survives kill -9 mid-run, resumes, verifies, and keeps bad JSON', async () => {
    const url = await server.createDatabase();
    const first = run(['migrate', '--from', `sqlite:${big}`, '--to', url, '--chunk-size', '5000', '--sample', '300']);
    // wait until a good part is committed, then kill the process at once
    for (let i = 0; ; i++) {
      const st = await q<{ copied: string }>(url, 'SELECT copied FROM migration_state').catch(() => []);
      if (st[0] && Number(st[0].copied) >= 150_000) break;
      if (i > 6_000) throw new Error('the copy never got going');
      await new Promise((r) => setTimeout(r, 20));
    }
    first.child.kill('SIGKILL');
    const killed = await first;
    expect(killed.signal).toBe('SIGKILL');
    const [state] = await q<{ copied: string; last_id: string }>(url, 'SELECT copied, last_id FROM migration_state');
    const [count] = await q<{ n: string }>(url, 'SELECT count(*) AS n FROM can_messages');
    // chunks commit with their progress: the target holds exactly what the state says
    expect(Number(count!.n)).toBe(Number(state!.copied));
    expect(Number(state!.last_id)).toBe(Number(state!.copied));
    expect(Number(state!.copied)).toBeLessThan(1_000_000);
    expect(killed.stderr).toMatch(/migrate: \d+\/1000000 rows \(\d+\.\d%\), \d+ rows\/s, ETA/);

    const second = await run([
      'migrate',
      '--from',
      `sqlite:${big}`,
      '--to',
      url,
      '--chunk-size',
      '20000',
      '--sample',
      '500',
    ]);
    expect(second.stderr).not.toContain('canopy migrate:');
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`resumed after ${state!.copied} rows copied earlier`);
    expect(second.stdout).toMatch(/verify: source 1000000 rows, target 1000000; \d+ sampled rows compared: all equal/);

    const [totals] = await q<{ n: string; d: string; lo: string; hi: string }>(
      url,
      'SELECT count(*) AS n, count(DISTINCT id) AS d, min(id) AS lo, max(id) AS hi FROM can_messages',
    );
    expect(totals).toEqual({ n: '1000000', d: '1000000', lo: '1', hi: '1000000' });
    const bad = await q<{ id: string; raw: string }>(
      url,
      "SELECT id, decoded_data->>'_invalid_json' AS raw FROM can_messages WHERE decoded_data ? '_invalid_json' ORDER BY id",
    );
    expect(bad.map((b) => [Number(b.id), b.raw])).toEqual([...BAD.entries()].sort((a, b) => a[0] - b[0]));
    const problems = await q<{ source_id: string; field: string; raw_text: string }>(
      url,
      'SELECT source_id, field, raw_text FROM migration_problems ORDER BY source_id, field',
    );
    expect(problems.filter((p) => p.field === 'decoded_data').map((p) => [Number(p.source_id), p.raw_text])).toEqual(
      [...BAD.entries()].sort((a, b) => a[0] - b[0]),
    );
    expect(problems.filter((p) => p.field === 'created_at').map((p) => [Number(p.source_id), p.raw_text])).toEqual([
      [77, 'yesterday'],
    ]);
    const [row] = await q<Record<string, unknown>>(
      url,
      'SELECT extract(epoch from timestamp)::float8 AS ts, can_id, node_id, decoded_data, extract(epoch from created_at)::float8 AS created FROM can_messages WHERE id = 123457',
    );
    expect(row!.ts).toBeCloseTo(1_700_000_000 + 123_457 * 0.137, 5);
    expect(row).toMatchObject({
      can_id: (2 << 8) | 1,
      node_id: 2,
      decoded_data: { temp_dry_c: 24.57, temp_wet_c: 16.57, fault: 1 },
    });
    expect(
      await q(url, 'SELECT count(*)::int AS n FROM can_messages WHERE id = 10007 AND decoded_data IS NULL'),
    ).toEqual([{ n: 1 }]);

    // the store takes over: new rows get ids after the copied ones
    const store = await openStore(url);
    await store.writeBatch({ messages: [msg('after-0', Date.now())], readings: [] });
    expect(await store.countMessages()).toBe(1_000_001);
    await store.close();
    expect(await q(url, 'SELECT max(id)::int AS hi FROM can_messages')).toEqual([{ hi: 1_000_001 }]);

    // running again copies nothing and still verifies (the store's new row is outside the source's ids)
    const third = await run(['migrate', '--from', `sqlite:${big}`, '--to', url, '--sample', '50', '--json']);
    expect(third.code).toBe(0);
    const report = JSON.parse(third.stdout) as { copy: { copiedNow: number }; verify: { ok: boolean } };
    expect(report.copy.copiedNow).toBe(0);
    expect(report.verify.ok).toBe(true);
  }, 300_000);

  it('verification exits 2 on a changed field or a missing row, and lists it', async () => {
    const url = await server.createDatabase();
    const ok = await run(['migrate', '--from', `sqlite:${small}`, '--to', url, '--sample', '20']);
    expect(ok.code).toBe(0);
    await q(url, "UPDATE can_messages SET raw_data = 'FF' WHERE id = 20000");
    const changed = await run(['migrate', '--from', `sqlite:${small}`, '--to', url, '--verify-only', '--sample', '5']);
    expect(changed.code).toBe(2);
    expect(changed.stdout).toContain('id 20000 raw_data: source "D2 09 6A 07 00" ≠ target "FF"');
    await q(url, "UPDATE can_messages SET raw_data = 'D2 09 6A 07 00' WHERE id = 20000");
    await q(url, 'DELETE FROM can_messages WHERE id = 1');
    const missing = await run(['migrate', '--from', `sqlite:${small}`, '--to', url, '--verify-only', '--sample', '5']);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain('source 20000 rows, target 19999');
    expect(missing.stdout).toContain('id 1 row: source "present" ≠ target "missing"');
  }, 120_000);

  it('refuses a target that already holds rows with the same ids, and a missing source', async () => {
    const url = await server.createDatabase();
    await copySqliteToPostgres({ from: small, to: url });
    const err = await copySqliteToPostgres({ from: small, to: url, sourceName: 'another copy' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toContain('already holds 20000 rows');
    const none = await run(['migrate', '--from', `sqlite:${path.join(dir, 'nope.db')}`, '--to', url]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('does not exist');
  }, 120_000);

  it('--help explains the copy, the invalid JSON rule, resuming and verification', async () => {
    const help = await run(['migrate', '--help']);
    expect(help.code).toBe(0);
    for (const words of ['--from', '--to', '_invalid_json', 'resumes', 'migration_state', 'Exit status 2']) {
      expect(help.stdout).toContain(words);
    }
  });

  it('migrates into TimescaleDB: can_messages becomes a hypertable and verifies', async () => {
    const ts = await startTimescale();
    try {
      const report = fs.existsSync(path.join(dir, 'r.jsonl')) ? path.join(dir, 'r2.jsonl') : path.join(dir, 'r.jsonl');
      const r = await migrateSqliteToPostgres({
        from: `sqlite:${small}`,
        to: ts.url,
        poolSize: 1,
        chunkSize: 4_000,
        sampleSize: 200,
        reportFile: report,
      });
      expect(r.copy?.total).toBe(20_000);
      expect(r.copy?.invalidJson).toBe([...BAD.keys()].filter((id) => id <= 20_000).length);
      expect(r.verify?.ok).toBe(true);
      const lines = fs
        .readFileSync(report, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { sourceId: number; field: string });
      expect(lines.filter((l) => l.field === 'decoded_data').map((l) => l.sourceId)).toEqual(
        [...BAD.keys()].filter((id) => id <= 20_000).sort((a, b) => a - b),
      );
      const hyper = await ts.query<{ hypertable_name: string }>(
        'SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1',
      );
      expect(hyper.map((h) => h.hypertable_name)).toContain('can_messages');
    } finally {
      await ts.stop();
    }
  }, 120_000);
});
