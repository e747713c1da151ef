/**
 * Converting one SQLite `can_messages` row (the seed's schema) to its
 * PostgreSQL form: REAL unix seconds → TIMESTAMPTZ, TEXT → JSONB, TEXT
 * created_at (UTC, `YYYY-MM-DD HH:MM:SS`) → TIMESTAMPTZ. Nothing is dropped:
 * decoded_data that is not valid JSON (or that JSONB refuses: \u0000,
 * unpaired surrogates) becomes `{"_invalid_json": "<the original text>"}`
 * and is reported.
 */

/** A row as read from SQLite. */
export interface SqliteMessage {
  id: number;
  timestamp: unknown;
  can_id: unknown;
  node_id: unknown;
  message_type: unknown;
  dlc: unknown;
  raw_data: unknown;
  decoded_data: unknown;
  created_at: unknown;
}

/** The row as written to PostgreSQL (decoded_data as JSON text; times as unix seconds / ISO text). */
export interface PgMessage {
  id: number;
  /** Unix seconds (to_timestamp() in SQL). */
  ts: number;
  canId: number;
  nodeId: number | null;
  messageType: string | null;
  dlc: number;
  rawData: string;
  decoded: string | null;
  createdAt: string | null;
}

/** A value that could not be carried over as is (it is kept in another form). */
export interface Problem {
  sourceId: number;
  field: 'decoded_data' | 'timestamp' | 'created_at';
  rawText: string;
  error: string;
}

const INVALID_KEY = '_invalid_json';
// what JSON.stringify writes for characters JSONB refuses
const JSONB_REFUSES = /\\u0000|\\ud[89a-f][0-9a-f]{2}/i;

const text = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

/** decoded_data TEXT → the JSON text for JSONB, or the wrapper for invalid text. */
export function convertDecoded(v: unknown): { json: string | null; error?: string } {
  if (v === null || v === undefined) return { json: null };
  const raw = text(v);
  let normalized: string;
  try {
    normalized = JSON.stringify(JSON.parse(raw));
  } catch (err) {
    return { json: JSON.stringify({ [INVALID_KEY]: raw }), error: (err as Error).message };
  }
  if (JSONB_REFUSES.test(normalized)) {
    return {
      json: JSON.stringify({ [INVALID_KEY]: raw }),
      error: 'contains \\u0000 or an unpaired surrogate (not allowed in JSONB)',
    };
  }
  return { json: normalized };
}

/** What the target's decoded_data must equal for a source value (used by verification). */
export function expectedDecoded(v: unknown): unknown {
  const { json } = convertDecoded(v);
  return json === null ? null : JSON.parse(json);
}

/** created_at TEXT (SQLite CURRENT_TIMESTAMP is UTC) → ISO-8601, or null. */
export function convertCreatedAt(v: unknown): { iso: string | null; error?: string } {
  if (v === null || v === undefined || v === '') return { iso: null };
  const s = text(v).trim();
  const m = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d(?::?\d\d)?)?$/.exec(s);
  if (m) {
    const iso = `${m[1]}T${m[2]}${m[3] ?? 'Z'}`;
    if (!Number.isNaN(Date.parse(iso))) return { iso };
  }
  return { iso: null, error: 'not a YYYY-MM-DD HH:MM:SS time' };
}

function int(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = typeof v === 'bigint' ? Number(v) : Number(v);
  return Number.isInteger(n) ? n : null;
}

/** Converts one row; problems (kept values in another form) are appended to `problems`. */
export function convertRow(r: SqliteMessage, problems: Problem[]): PgMessage {
  const id = Number(r.id);
  let ts = typeof r.timestamp === 'number' ? r.timestamp : Number(r.timestamp);
  if (!Number.isFinite(ts)) {
    problems.push({
      sourceId: id,
      field: 'timestamp',
      rawText: text(r.timestamp),
      error: 'not a number: stored as 1970-01-01',
    });
    ts = 0;
  }
  const decoded = convertDecoded(r.decoded_data);
  if (decoded.error)
    problems.push({ sourceId: id, field: 'decoded_data', rawText: text(r.decoded_data), error: decoded.error });
  const created = convertCreatedAt(r.created_at);
  if (created.error)
    problems.push({ sourceId: id, field: 'created_at', rawText: text(r.created_at), error: created.error });
  return {
    id,
    ts,
    canId: int(r.can_id) ?? 0,
    nodeId: int(r.node_id),
    messageType: r.message_type === null || r.message_type === undefined ? null : text(r.message_type),
    dlc: int(r.dlc) ?? 0,
    rawData: r.raw_data === null || r.raw_data === undefined ? '' : text(r.raw_data),
    decoded: decoded.json,
    createdAt: created.iso,
  };
}
