/**
 * `COPY table (columns) FROM STDIN` in PostgreSQL's text format, through
 * pg-copy-streams. Values: null → \N; Date → ISO-8601; objects → JSON text;
 * strings escaped (backslash, tab, newline, carriage return).
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';

function field(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  let s: string;
  if (typeof v === 'string') s = v;
  else if (v instanceof Date) return v.toISOString();
  else if (typeof v === 'object') s = JSON.stringify(v);
  else return String(v);
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** Encodes rows as COPY text lines, in chunks of about 64 KiB. */
function* lines(rows: unknown[][]): Generator<string> {
  let buf = '';
  for (const row of rows) {
    buf += row.map(field).join('\t') + '\n';
    if (buf.length > 65_536) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

/** Streams `rows` into `table` with COPY FROM STDIN on `client` (inside the caller's transaction). */
export async function copyRows(
  client: pg.ClientBase,
  table: string,
  columns: string[],
  rows: unknown[][],
): Promise<void> {
  if (!rows.length) return;
  const sink = client.query(copyStreams.from(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  await pipeline(Readable.from(lines(rows)), sink);
}
