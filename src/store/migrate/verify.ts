/**
 * Verification of a copy: row counts over the source's id range, then a
 * sample of rows (random ones plus the first and the last) compared field
 * by field with what the conversion must have produced.
 */
import { isDeepStrictEqual } from 'node:util';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { convertCreatedAt, expectedDecoded, type SqliteMessage } from './convert.js';

export interface Mismatch {
  id: number;
  field: string;
  source: unknown;
  target: unknown;
}

export interface VerifyResult {
  ok: boolean;
  sourceCount: number;
  targetCount: number;
  sampled: number;
  mismatches: Mismatch[];
}

interface TargetRow {
  id: number;
  ts: number;
  can_id: number;
  node_id: number | null;
  message_type: string | null;
  dlc: number;
  raw_data: string;
  decoded_data: unknown;
  created: number | null;
}

/** Differences between a source row and its target row (empty when equal). */
function compare(s: SqliteMessage, t: TargetRow | undefined): Mismatch[] {
  const id = Number(s.id);
  if (!t) return [{ id, field: 'row', source: 'present', target: 'missing' }];
  const out: Mismatch[] = [];
  const check = (field: string, a: unknown, b: unknown, equal = isDeepStrictEqual(a, b)) => {
    if (!equal) out.push({ id, field, source: a, target: b });
  };
  const srcTs = Number(s.timestamp);
  // to_timestamp keeps microseconds: allow the rounding of the last one
  check('timestamp', srcTs, t.ts, Number.isFinite(srcTs) ? Math.abs(srcTs - t.ts) <= 1.5e-6 : t.ts === 0);
  check('can_id', Number(s.can_id), Number(t.can_id));
  check('node_id', s.node_id === null ? null : Number(s.node_id), t.node_id === null ? null : Number(t.node_id));
  check('message_type', s.message_type ?? null, t.message_type);
  check('dlc', Number(s.dlc), Number(t.dlc));
  check('raw_data', String(s.raw_data ?? ''), t.raw_data);
  check('decoded_data', expectedDecoded(s.decoded_data), t.decoded_data);
  const iso = convertCreatedAt(s.created_at).iso;
  const created = iso === null ? null : Date.parse(iso) / 1000;
  check(
    'created_at',
    created,
    t.created,
    created === null ? t.created === null : Math.abs(created - (t.created ?? NaN)) <= 1e-3,
  );
  return out;
}

export async function verifyCopy(src: Database.Database, c: pg.ClientBase, sampleSize: number): Promise<VerifyResult> {
  const b = src.prepare('SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM can_messages').get() as {
    n: number;
    lo: number | null;
    hi: number | null;
  };
  const tc = await c.query<{ n: string }>('SELECT count(*) AS n FROM can_messages WHERE id BETWEEN $1 AND $2', [
    b.lo ?? 0,
    b.hi ?? -1,
  ]);
  const targetCount = Number(tc.rows[0]?.n ?? 0);
  const mismatches: Mismatch[] = [];
  if (targetCount !== b.n) mismatches.push({ id: 0, field: 'count', source: b.n, target: targetCount });
  const sample = src
    .prepare(
      `SELECT * FROM can_messages WHERE id IN (
         SELECT id FROM (SELECT id FROM can_messages ORDER BY random() LIMIT ?)
         UNION SELECT min(id) FROM can_messages UNION SELECT max(id) FROM can_messages)
       ORDER BY id`,
    )
    .all(sampleSize) as SqliteMessage[];
  const ids = sample.map((r) => Number(r.id));
  const rows = await c.query<TargetRow>(
    `SELECT id, extract(epoch from timestamp)::float8 AS ts, can_id, node_id, message_type, dlc, raw_data, decoded_data,
            extract(epoch from created_at)::float8 AS created
     FROM can_messages WHERE id = ANY($1::int8[])`,
    [ids],
  );
  const byId = new Map<number, TargetRow>();
  for (const r of rows.rows) {
    const id = Number(r.id);
    if (byId.has(id)) mismatches.push({ id, field: 'row', source: 'once', target: 'duplicated' });
    byId.set(id, r);
  }
  for (const s of sample) mismatches.push(...compare(s, byId.get(Number(s.id))));
  return { ok: mismatches.length === 0, sourceCount: b.n, targetCount, sampled: sample.length, mismatches };
}
