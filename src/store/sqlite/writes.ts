/**
 * The rows of one write batch, inside the caller's transaction: the
 * idempotency keys first (a stream id already stored is a duplicate, and its
 * rows are skipped), then the CAN messages and readings of the new ids, the
 * 1-minute and 1-hour rollups, and the latest value per sensor.
 */
import type { StatementCache } from './statements.js';
import { HOUR, MINUTE, aggregateReadings } from '../buckets.js';
import { decodedText, freshRows, latestOf, streamIdsOf } from '../batch.js';
import type { WriteBatch } from '../types.js';

function rollupUpsert(table: string): string {
  return `INSERT INTO ${table} (sensor, bucket, min_value, max_value, sum_value, n_values) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (sensor, bucket) DO UPDATE SET
      min_value = min(min_value, excluded.min_value), max_value = max(max_value, excluded.max_value),
      sum_value = sum_value + excluded.sum_value, n_values = n_values + excluded.n_values`;
}

/** The rollup upserts, built once: a kept statement is looked up by its text on every batch. */
const ROLLUPS = [
  [rollupUpsert('readings_1m'), MINUTE],
  [rollupUpsert('readings_1h'), HOUR],
] as const;

/** Writes `b` through `db`'s kept statements (call it inside a transaction); returns how many stream ids were new and how many known. */
export function writeRows(db: StatementCache, b: WriteBatch): { stored: number; duplicates: number } {
  const ids = streamIdsOf(b);
  const now = Date.now();
  const claim = db.prepare('INSERT OR IGNORE INTO ingested_entries (stream_id, ingested_at) VALUES (?, ?)');
  const fresh = new Set<string>();
  for (const id of ids) if (claim.run(id, now).changes === 1) fresh.add(id);
  const { messages, readings } = freshRows(b, fresh);
  const insMsg = db.prepare(
    `INSERT INTO can_messages (timestamp, can_id, node_id, message_type, dlc, raw_data, decoded_data)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const m of messages) {
    insMsg.run(m.timestamp / 1000, m.canId, m.nodeId, m.messageType, m.dlc, m.rawData, decodedText(m));
  }
  const insReading = db.prepare(
    'INSERT INTO sensor_readings (time, sensor, value, location, cluster) VALUES (?, ?, ?, ?, ?)',
  );
  for (const r of readings) insReading.run(Math.round(r.time), r.sensor, r.value, r.location, r.cluster);
  if (readings.length) {
    for (const [sql, res] of ROLLUPS) {
      const up = db.prepare(sql);
      for (const p of aggregateReadings(readings, res)) up.run(p.sensor, p.t, p.min, p.max, p.sum, p.count);
    }
    const latest = db.prepare(
      `INSERT INTO sensor_latest (sensor, time, value, location, cluster) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (sensor) DO UPDATE SET time = excluded.time, value = excluded.value,
         location = excluded.location, cluster = excluded.cluster WHERE excluded.time >= sensor_latest.time`,
    );
    for (const l of latestOf(readings)) latest.run(l.sensor, Math.round(l.time), l.value, l.location, l.cluster);
  }
  return { stored: fresh.size, duplicates: ids.length - fresh.size };
}
