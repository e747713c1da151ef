/**
 * Copies an existing SQLite `can_messages` (the seed's schema) into
 * PostgreSQL/TimescaleDB, in chunks ordered by id. Each chunk is one target
 * transaction that also advances `migration_state.last_id`, so a run killed
 * at any instant resumes exactly where the last commit left off, with no row
 * copied twice or skipped. Source ids are kept (the target's sequence is
 * moved past them at the end), which is what verification compares by.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { StoreError, toStoreError } from '../errors.js';
import { openStore } from '../index.js';
import type { StoreOptions } from '../options.js';
import { convertRow, type Problem, type SqliteMessage } from './convert.js';

/** Options of {@link copySqliteToPostgres}. */
export interface MigrateOptions {
  /** SQLite file (a `sqlite:` prefix is accepted). */
  from: string;
  /** `postgres://…` */
  to: string;
  /** @defaultValue 10_000 — rows per chunk (one target transaction each). */
  chunkSize: number;
  /** @defaultValue the resolved path of `from` — the key of this copy in `migration_state`. */
  sourceName?: string;
  /** @defaultValue unset — also write every problem row as a JSON line to this file. */
  reportFile?: string;
  /** @defaultValue `'auto'` — passed to the store that creates the target schema. */
  timescale: StoreOptions['timescale'];
  /** @defaultValue 2 — target connections (1 for single-session servers). */
  poolSize: number;
  /** @defaultValue no-op — called after each committed chunk. */
  onProgress: (p: MigrateProgress) => void;
}

export const MIGRATE_DEFAULTS: Omit<MigrateOptions, 'from' | 'to'> = {
  chunkSize: 10_000,
  timescale: 'auto',
  poolSize: 2,
  onProgress: () => undefined,
};

export interface MigrateProgress {
  copied: number;
  total: number;
  lastId: number;
  problems: number;
}

export interface CopyResult {
  source: string;
  total: number;
  /** Rows copied by this run. */
  copiedNow: number;
  /** Rows copied by earlier, interrupted runs. */
  resumedFrom: number;
  problems: number;
  invalidJson: number;
  ms: number;
}

export const STATE_DDL = [
  `CREATE TABLE IF NOT EXISTS migration_state (
      source TEXT PRIMARY KEY,
      last_id BIGINT NOT NULL,
      copied BIGINT NOT NULL DEFAULT 0,
      problems BIGINT NOT NULL DEFAULT 0,
      started_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
      finished_at TIMESTAMPTZ
  )`,
  `CREATE TABLE IF NOT EXISTS migration_problems (
      source TEXT NOT NULL,
      source_id BIGINT NOT NULL,
      field TEXT NOT NULL,
      raw_text TEXT,
      error TEXT NOT NULL,
      PRIMARY KEY (source, source_id, field)
  )`,
];

export function sqlitePath(from: string): string {
  return from.replace(/^(?:sqlite|file):(?:\/\/)?/, '');
}

/** Opens the source read-only and checks it has the seed's can_messages. */
export function openSource(from: string): Database.Database {
  const file = sqlitePath(from);
  if (!fs.existsSync(file)) throw new StoreError('STORE_CONFIG', `source ${file} does not exist`);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  const cols = (db.prepare('PRAGMA table_info(can_messages)').all() as { name: string }[]).map((c) => c.name);
  const need = [
    'id',
    'timestamp',
    'can_id',
    'node_id',
    'message_type',
    'dlc',
    'raw_data',
    'decoded_data',
    'created_at',
  ];
  const missing = need.filter((c) => !cols.includes(c));
  if (missing.length) {
    db.close();
    throw new StoreError(
      'STORE_CONFIG',
      `source ${file} has no can_messages table with the seed's columns (missing: ${missing.join(', ')})`,
    );
  }
  return db;
}

async function insertChunk(c: pg.ClientBase, rows: ReturnType<typeof convertRow>[]): Promise<void> {
  await c.query(
    `INSERT INTO can_messages (id, timestamp, can_id, node_id, message_type, dlc, raw_data, decoded_data, created_at)
     SELECT id, to_timestamp(ts), ci, ni, mt, d, rd, dd::jsonb, ca
     FROM unnest($1::int8[], $2::float8[], $3::int[], $4::int[], $5::text[], $6::int[], $7::text[], $8::text[], $9::timestamptz[])
       AS u(id, ts, ci, ni, mt, d, rd, dd, ca)`,
    [
      rows.map((r) => r.id),
      rows.map((r) => r.ts),
      rows.map((r) => r.canId),
      rows.map((r) => r.nodeId),
      rows.map((r) => r.messageType),
      rows.map((r) => r.dlc),
      rows.map((r) => r.rawData),
      rows.map((r) => r.decoded),
      rows.map((r) => r.createdAt),
    ],
  );
}

async function insertProblems(c: pg.ClientBase, source: string, problems: Problem[]): Promise<void> {
  if (!problems.length) return;
  await c.query(
    `INSERT INTO migration_problems (source, source_id, field, raw_text, error)
     SELECT $1, id, f, rt, e FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[]) AS u(id, f, rt, e)
     ON CONFLICT DO NOTHING`,
    [
      source,
      problems.map((p) => p.sourceId),
      problems.map((p) => p.field),
      problems.map((p) => p.rawText),
      problems.map((p) => p.error),
    ],
  );
}

/** Creates the target schema (through the store's migrations) and the migration tables. */
export async function prepareTarget(o: Pick<MigrateOptions, 'to' | 'timescale' | 'poolSize'>): Promise<void> {
  const store = await openStore(o.to, { timescale: o.timescale, poolSize: o.poolSize, sweepIntervalMs: 0 });
  await store.close();
}

/** Connects (a few attempts: a server that just closed our previous session may still be busy) and creates the migration tables. */
export async function connect(url: string, attempts = 5): Promise<pg.Client> {
  for (let i = 1; ; i++) {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    try {
      await c.connect();
      c.on('error', () => undefined);
      for (const ddl of STATE_DDL) await c.query(ddl);
      return c;
    } catch (err) {
      await c.end().catch(() => undefined);
      const se = toStoreError(err, 'cannot connect to the target');
      if (se.code !== 'STORE_UNAVAILABLE' || i >= attempts) throw se;
      await new Promise((r) => setTimeout(r, 250 * i));
    }
  }
}

export async function copySqliteToPostgres(
  options: Partial<MigrateOptions> & Pick<MigrateOptions, 'from' | 'to'>,
): Promise<CopyResult> {
  const o: MigrateOptions = { ...MIGRATE_DEFAULTS, ...options };
  if (!Number.isInteger(o.chunkSize) || o.chunkSize < 1)
    throw new StoreError('STORE_CONFIG', 'chunkSize must be an integer ≥ 1');
  const started = performance.now();
  const src = openSource(o.from);
  const source = o.sourceName ?? path.resolve(sqlitePath(o.from));
  const report = o.reportFile ? fs.openSync(o.reportFile, 'a', 0o600) : undefined;
  let client: pg.Client | undefined;
  try {
    await prepareTarget(o);
    client = await connect(o.to);
    const c = client;
    const bounds = src.prepare('SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM can_messages').get() as {
      n: number;
      lo: number | null;
      hi: number | null;
    };
    let state = (
      await c.query<{ last_id: string; copied: string; problems: string }>(
        'SELECT last_id, copied, problems FROM migration_state WHERE source = $1',
        [source],
      )
    ).rows[0];
    if (!state) {
      if (bounds.lo !== null) {
        const clash = await c.query<{ n: string }>(
          'SELECT count(*) AS n FROM can_messages WHERE id BETWEEN $1 AND $2',
          [bounds.lo, bounds.hi],
        );
        if (Number(clash.rows[0]?.n) > 0) {
          throw new StoreError(
            'STORE_CONFIG',
            `the target's can_messages already holds ${clash.rows[0]?.n} rows with ids in the source's range ${bounds.lo}–${bounds.hi}; migrate into an empty database`,
          );
        }
      }
      await c.query('INSERT INTO migration_state (source, last_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
        source,
        (bounds.lo ?? 1) - 1,
      ]);
      state = { last_id: String((bounds.lo ?? 1) - 1), copied: '0', problems: '0' };
    }
    let lastId = Number(state.last_id);
    let copied = Number(state.copied);
    let problemCount = Number(state.problems);
    const resumedFrom = copied;
    const read = src.prepare(
      'SELECT id, timestamp, can_id, node_id, message_type, dlc, raw_data, decoded_data, created_at FROM can_messages WHERE id > ? ORDER BY id LIMIT ?',
    );
    o.onProgress({ copied, total: bounds.n, lastId, problems: problemCount });
    while (true) {
      const rows = read.all(lastId, o.chunkSize) as SqliteMessage[];
      if (!rows.length) break;
      const problems: Problem[] = [];
      const converted = rows.map((r) => convertRow(r, problems));
      const newLast = converted[converted.length - 1]!.id;
      await c.query('BEGIN');
      try {
        await insertChunk(c, converted);
        await insertProblems(c, source, problems);
        await c.query(
          'UPDATE migration_state SET last_id = $2, copied = copied + $3, problems = problems + $4, updated_at = NOW() WHERE source = $1',
          [source, newLast, rows.length, problems.length],
        );
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw toStoreError(err, `copying ids ${lastId + 1}–${newLast}`);
      }
      if (report) for (const p of problems) fs.writeSync(report, `${JSON.stringify({ source, ...p })}\n`);
      lastId = newLast;
      copied += rows.length;
      problemCount += problems.length;
      o.onProgress({ copied, total: bounds.n, lastId, problems: problemCount });
    }
    // new rows written by the store after the migration get ids above the copied ones
    await c.query(
      "SELECT setval(pg_get_serial_sequence('can_messages', 'id'), GREATEST((SELECT max(id) FROM can_messages), 1))",
    );
    await c.query('UPDATE migration_state SET finished_at = NOW() WHERE source = $1', [source]);
    const inv = await c.query<{ n: string }>(
      "SELECT count(*) AS n FROM migration_problems WHERE source = $1 AND field = 'decoded_data'",
      [source],
    );
    return {
      source,
      total: bounds.n,
      copiedNow: copied - resumedFrom,
      resumedFrom,
      problems: problemCount,
      invalidJson: Number(inv.rows[0]?.n ?? 0),
      ms: performance.now() - started,
    };
  } finally {
    src.close();
    if (report !== undefined) fs.closeSync(report);
    await client?.end().catch(() => undefined);
  }
}
