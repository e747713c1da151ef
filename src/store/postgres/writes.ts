/**
 * How a batch's rows reach PostgreSQL: COPY or `INSERT … SELECT FROM
 * unnest(arrays)` (one round trip per table), the rollup tables of plain
 * PostgreSQL, and the latest value per sensor.
 */
import type pg from 'pg';
import { aggregateReadings, HOUR, MINUTE } from '../buckets.js';
import { decodedText, latestOf } from '../batch.js';
import type { StoreOptions } from '../options.js';
import type { CanMessageRow, ReadingRow } from '../types.js';
import { copyRows } from './copy.js';

/** SQL for a unix-ms parameter as a timestamptz. */
export const TS = (p: string) => `to_timestamp(${p}::float8 / 1000)`;

/** `can_messages` rows by COPY or one `INSERT … SELECT FROM unnest(arrays)`. */
export async function insertMessages(
  c: pg.ClientBase,
  rows: CanMessageRow[],
  ingest: StoreOptions['ingest'],
): Promise<void> {
  if (!rows.length) return;
  if (ingest === 'copy') {
    const cols = ['timestamp', 'can_id', 'node_id', 'message_type', 'dlc', 'raw_data', 'decoded_data'];
    const data = rows.map((m) => [
      new Date(m.timestamp),
      m.canId,
      m.nodeId,
      m.messageType,
      m.dlc,
      m.rawData,
      decodedText(m),
    ]);
    return copyRows(c, 'can_messages', cols, data);
  }
  await c.query(
    `INSERT INTO can_messages (timestamp, can_id, node_id, message_type, dlc, raw_data, decoded_data)
       SELECT ${TS('t')}, ci, ni, mt, d, rd, dd::jsonb
       FROM unnest($1::float8[], $2::int[], $3::int[], $4::text[], $5::int[], $6::text[], $7::text[]) AS u(t, ci, ni, mt, d, rd, dd)`,
    [
      rows.map((m) => m.timestamp),
      rows.map((m) => m.canId),
      rows.map((m) => m.nodeId),
      rows.map((m) => m.messageType),
      rows.map((m) => m.dlc),
      rows.map((m) => m.rawData),
      rows.map(decodedText),
    ],
  );
}

/** `sensor_readings` rows (COPY or unnest), the rollup tables when `rollups` (plain PostgreSQL), and `sensor_latest`. */
export async function insertReadings(
  c: pg.ClientBase,
  rows: ReadingRow[],
  ingest: StoreOptions['ingest'],
  rollups: boolean,
): Promise<void> {
  if (!rows.length) return;
  if (ingest === 'copy') {
    const data = rows.map((r) => [new Date(r.time), r.sensor, r.value, r.location, r.cluster]);
    await copyRows(c, 'sensor_readings', ['time', 'sensor', 'value', 'location', 'cluster'], data);
  } else {
    await c.query(
      `INSERT INTO sensor_readings (time, sensor, value, location, cluster)
         SELECT ${TS('t')}, s, v, l, cl FROM unnest($1::float8[], $2::text[], $3::float8[], $4::text[], $5::text[]) AS u(t, s, v, l, cl)`,
      [
        rows.map((r) => r.time),
        rows.map((r) => r.sensor),
        rows.map((r) => r.value),
        rows.map((r) => r.location),
        rows.map((r) => r.cluster),
      ],
    );
  }
  if (rollups) await upsertRollups(c, rows);
  const latest = latestOf(rows);
  await c.query(
    `INSERT INTO sensor_latest (sensor, time, value, location, cluster)
       SELECT s, ${TS('t')}, v, l, cl FROM unnest($1::text[], $2::float8[], $3::float8[], $4::text[], $5::text[]) AS u(s, t, v, l, cl)
       ON CONFLICT (sensor) DO UPDATE SET time = excluded.time, value = excluded.value,
         location = excluded.location, cluster = excluded.cluster WHERE excluded.time >= sensor_latest.time`,
    [
      latest.map((l) => l.sensor),
      latest.map((l) => l.time),
      latest.map((l) => l.value),
      latest.map((l) => l.location),
      latest.map((l) => l.cluster),
    ],
  );
}

/** Plain PostgreSQL: folds the readings into the rollup tables (TimescaleDB's continuous aggregates do it there). */
async function upsertRollups(c: pg.ClientBase, rows: ReadingRow[]): Promise<void> {
  for (const [table, res] of [
    ['readings_1m', MINUTE],
    ['readings_1h', HOUR],
  ] as const) {
    // in key order, so concurrent writers lock rollup rows in the same order (no deadlock)
    const parts = aggregateReadings(rows, res).sort((x, y) =>
      x.sensor < y.sensor ? -1 : x.sensor > y.sensor ? 1 : x.t - y.t,
    );
    await c.query(
      `INSERT INTO ${table} (sensor, bucket, min_value, max_value, sum_value, n_values)
         SELECT s, ${TS('t')}, mn, mx, sm, n
         FROM unnest($1::text[], $2::float8[], $3::float8[], $4::float8[], $5::float8[], $6::int8[]) AS u(s, t, mn, mx, sm, n)
         ON CONFLICT (sensor, bucket) DO UPDATE SET
           min_value = least(${table}.min_value, excluded.min_value),
           max_value = greatest(${table}.max_value, excluded.max_value),
           sum_value = ${table}.sum_value + excluded.sum_value,
           n_values = ${table}.n_values + excluded.n_values`,
      [
        parts.map((p) => p.sensor),
        parts.map((p) => p.t),
        parts.map((p) => p.min),
        parts.map((p) => p.max),
        parts.map((p) => p.sum),
        parts.map((p) => p.count),
      ],
    );
  }
}
