/**
 * The grower's journal: short notes per room with a time stamp (`journal`
 * table, SQLite and PostgreSQL), written over the same minimal driver as the
 * other record tables (records.ts).
 */
import { StoreError } from './errors.js';
import type { JournalMethodNames, RecordMethods, SqlDriver } from './records.js';
import { JOURNAL_MAX_TEXT, type JournalEntry } from './types.js';

export function journalMethods(db: SqlDriver): Pick<RecordMethods, JournalMethodNames> {
  const d = db.dialect;
  const cols = `id, ${d.ms('time')} AS time, location, cluster, text, by_whom`;
  const toEntry = (r: Record<string, unknown>): JournalEntry => ({
    id: Number(r.id),
    time: Number(r.time),
    location: String(r.location),
    cluster: (r.cluster as string | null) ?? null,
    text: String(r.text),
    by: String(r.by_whom),
  });
  return {
    async addJournalEntry(e) {
      const text = typeof e.text === 'string' ? e.text.trim() : '';
      if (!e.location || !text || !e.by) {
        throw new StoreError('STORE_INVALID', 'addJournalEntry: location, text and by are required');
      }
      if ([...text].length > JOURNAL_MAX_TEXT) {
        throw new StoreError('STORE_INVALID', `addJournalEntry: text is longer than ${JOURNAL_MAX_TEXT} characters`);
      }
      const time = e.time ?? Date.now();
      if (!Number.isFinite(time)) throw new StoreError('STORE_INVALID', 'addJournalEntry: time must be unix ms');
      const rows = await db.all<Record<string, unknown>>(
        `INSERT INTO journal (time, location, cluster, text, by_whom)
         VALUES (${d.ts('$1')}, $2, $3, $4, $5) RETURNING ${cols}`,
        [time, e.location, e.cluster ?? null, text, e.by],
      );
      return toEntry(rows[0] as Record<string, unknown>);
    },

    async listJournal(q = {}) {
      const limit = q.limit ?? 200;
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        throw new StoreError('STORE_INVALID', 'listJournal: limit must be an integer 1–10000');
      }
      const rows = await db.all<Record<string, unknown>>(
        `SELECT ${cols} FROM journal
         WHERE (CAST($1 AS TEXT) IS NULL OR location = $1)
           AND (CAST($2 AS BIGINT) IS NULL OR time >= ${d.ts('$2')})
           AND (CAST($3 AS BIGINT) IS NULL OR time <= ${d.ts('$3')})
         ORDER BY time DESC, id DESC LIMIT $4`,
        [q.location ?? null, q.from ?? null, q.to ?? null, limit],
      );
      return rows.map(toEntry);
    },
  };
}
