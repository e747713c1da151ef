/**
 * Reading `can_messages` back in insertion order (the CAN monitor follows
 * what the database received). Written once over the {@link SqlDriver}; the
 * backends differ only in how the frame time is stored (SQLite: REAL
 * seconds; PostgreSQL: TIMESTAMPTZ), given as SQL by the caller.
 */
import { StoreError } from './errors.js';
import type { SqlDriver } from './records.js';
import type { MessageQuery, StoredCanMessage } from './types.js';

/** @defaultValue of {@link MessageQuery.limit} */
export const MESSAGE_QUERY_LIMIT = 500;

function checkQuery(q: MessageQuery): { afterId: number | null; since: number | null; limit: number } {
  const limit = q.limit ?? MESSAGE_QUERY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
    throw new StoreError('STORE_INVALID', 'messages: limit must be an integer from 1 to 100000');
  }
  if (q.afterId !== undefined && (!Number.isInteger(q.afterId) || q.afterId < 0)) {
    throw new StoreError('STORE_INVALID', 'messages: afterId must be an integer ≥ 0');
  }
  if (q.since !== undefined && !Number.isFinite(q.since)) {
    throw new StoreError('STORE_INVALID', 'messages: since must be a finite unix-ms time');
  }
  return { afterId: q.afterId ?? null, since: q.since ?? null, limit };
}

function parseDecoded(v: unknown): Record<string, number> | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'object') return v as Record<string, number>;
  try {
    const o = JSON.parse(String(v)) as unknown;
    return o && typeof o === 'object' ? (o as Record<string, number>) : null;
  } catch {
    return null;
  }
}

/**
 * `can_messages` rows in ascending id order. With `afterId`: the first
 * `limit` rows after it (a follower's cursor); without: the newest `limit`.
 * `since` (unix ms, frame time) bounds the scan to recent rows, which keeps
 * it on the time index of a large (hyper)table.
 *
 * @param timeMs SQL giving the `timestamp` column as unix ms.
 * @param timeParam SQL turning the unix-ms parameter `$2` into the stored time type.
 */
export async function readMessages(
  db: SqlDriver,
  q: MessageQuery,
  timeMs: string,
  timeParam: string,
): Promise<StoredCanMessage[]> {
  const { afterId, since, limit } = checkQuery(q);
  const cols = `id, ${timeMs} AS ts, can_id, node_id, message_type, dlc, raw_data, decoded_data`;
  const where = `(CAST($1 AS BIGINT) IS NULL OR id > $1) AND (CAST($2 AS DOUBLE PRECISION) IS NULL OR timestamp >= ${timeParam})`;
  const rows =
    afterId === null
      ? (
          await db.all<Record<string, unknown>>(
            `SELECT ${cols} FROM can_messages WHERE ${where} ORDER BY id DESC LIMIT $3`,
            [afterId, since, limit],
          )
        ).reverse()
      : await db.all<Record<string, unknown>>(`SELECT ${cols} FROM can_messages WHERE ${where} ORDER BY id LIMIT $3`, [
          afterId,
          since,
          limit,
        ]);
  return rows.map((r): StoredCanMessage => ({
    id: Number(r.id),
    timestamp: Number(r.ts),
    canId: Number(r.can_id),
    nodeId: r.node_id === null || r.node_id === undefined ? null : Number(r.node_id),
    messageType: r.message_type === null || r.message_type === undefined ? 'UNKNOWN' : String(r.message_type),
    dlc: Number(r.dlc),
    rawData: String(r.raw_data),
    decodedData: parseDecoded(r.decoded_data),
  }));
}
