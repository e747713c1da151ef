import fs from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PG_MIGRATIONS } from '../../store/postgres/schema.js';
import { SQLITE_MIGRATIONS } from '../../store/sqlite/schema.js';
import { DAY_MS } from '../../store/options.js';
import { sqliteGrowth } from '../../store/retention.js';
import { parseStoreUrl } from '../backup.js';
import { fail, ok, warn, why, type CheckResult } from './types.js';

/** Tables every migrated Canopy store has (docs/storage.md). */
export const REQUIRED_TABLES = ['can_messages', 'sensor_readings'];

function migrated(tables: string[], version: number | undefined, latest?: number): CheckResult {
  const missing = REQUIRED_TABLES.filter((t) => !tables.includes(t));
  if (missing.length > 0)
    return fail(
      'store.migrated',
      'Store migrated',
      `missing table(s) ${missing.join(', ')}`,
      'start the worker once (it migrates the store), e.g. canopy worker or canopy up',
    );
  if (latest !== undefined && (version ?? 0) < latest)
    return fail(
      'store.migrated',
      'Store migrated',
      `schema version ${version ?? 'none'}, this Canopy needs ${latest}`,
      'restart the worker (it applies pending migrations), or run canopy worker once',
    );
  return ok('store.migrated', 'Store migrated', `schema version ${version ?? 'unknown'}; ${tables.length} tables`);
}

const MB = 1e6;

/**
 * Retention and growth of a SQLite store: what is kept how long, rows and
 * bytes per day (measured: rows of the last 24 h × bytes per row), and how
 * many days of growth the free disk holds. Warns when raw rows are kept
 * forever, or when the disk fills within the retention period.
 */
export function retentionCheck(
  db: Database.Database,
  fileBytes: number,
  rawDays: number,
  freeBytes: number | undefined,
  now = Date.now(),
): CheckResult {
  const g = sqliteGrowth(db, fileBytes, now);
  const kept = rawDays > 0 ? `raw readings kept ${rawDays} days, rollups kept` : 'everything kept (no retention)';
  const growth =
    g.bytesPerRow === undefined
      ? 'no rows yet: growth unknown'
      : `growth ${(g.bytesPerDay / MB).toFixed(1)} MB/day (${g.rowsPerDay} rows/day × ${Math.round(g.bytesPerRow)} B/row` +
        (g.measuredMs < DAY_MS ? `, from the last ${formatSpan(g.measuredMs)})` : ')');
  const daysLeft = freeBytes !== undefined && g.bytesPerDay > 0 ? Math.floor(freeBytes / g.bytesPerDay) : undefined;
  const left = daysLeft === undefined ? '' : `; the free disk holds ~${daysLeft} days of it`;
  const detail = `${kept}; ${growth}${left}`;
  if (rawDays <= 0)
    return warn(
      'store.retention',
      'Store retention',
      detail,
      'set CANOPY_RETENTION_RAW_DAYS (e.g. 90) so the SD card does not fill up',
    );
  if (daysLeft !== undefined && daysLeft < rawDays)
    return warn(
      'store.retention',
      'Store retention',
      detail,
      `the disk fills before old rows are deleted: lower CANOPY_RETENTION_RAW_DAYS below ${daysLeft} or free space`,
    );
  return ok('store.retention', 'Store retention', detail);
}

function formatSpan(ms: number): string {
  return ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`;
}

function freeBytesAt(file: string): number | undefined {
  try {
    const st = fs.statfsSync(file);
    return st.bavail * st.bsize;
  } catch {
    return undefined;
  }
}

function sqliteChecks(file: string, rawDays: number): CheckResult[] {
  if (!fs.existsSync(file))
    return [
      fail(
        'store.reachable',
        'Store reachable',
        `SQLite file ${file} does not exist`,
        'check DATABASE_URL / CANOPY_DATA_DIR, or start the worker to create it',
      ),
    ];
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    return [
      fail('store.reachable', 'Store reachable', `${file}: ${why(err)}`, 'check the file permissions (owner canopy)'),
    ];
  }
  try {
    const check = db.pragma('quick_check', { simple: true });
    const size = fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
    const out: CheckResult[] = [];
    out.push(
      check === 'ok'
        ? ok('store.reachable', 'Store reachable', `SQLite ${file} (${(size / 1e6).toFixed(1)} MB with WAL)`)
        : fail(
            'store.reachable',
            'Store reachable',
            `quick_check: ${String(check)}`,
            'restore the latest backup: canopy restore DIR --force',
          ),
    );
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
    let version: number | undefined;
    if (tables.includes('schema_migrations'))
      version = Number(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get());
    out.push(migrated(tables, version, Math.max(...SQLITE_MIGRATIONS.map((m) => m.version))));
    out.push(ok('store.timescaledb', 'TimescaleDB', 'not applicable: the store is SQLite'));
    out.push(retentionCheck(db, size, rawDays, freeBytesAt(file)));
    return out;
  } catch (err) {
    return [fail('store.reachable', 'Store reachable', `${file}: ${why(err)}`, 'restore the latest backup')];
  } finally {
    db.close();
  }
}

async function postgresChecks(url: string, timeoutMs: number): Promise<CheckResult[]> {
  const where = url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    return [
      fail(
        'store.reachable',
        'Store reachable',
        `${where}: ${why(err)}`,
        'start PostgreSQL (sudo systemctl start postgresql) and check DATABASE_URL and its password',
      ),
    ];
  }
  try {
    const out: CheckResult[] = [];
    const v = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    out.push(ok('store.reachable', 'Store reachable', `PostgreSQL ${v.rows[0]?.v} at ${where}`));
    const t = await client.query<{ t: string }>(
      "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public'",
    );
    const tables = t.rows.map((r) => r.t);
    let version: number | undefined;
    if (tables.includes('schema_migrations')) {
      const m = await client.query<{ v: number }>('SELECT max(version) AS v FROM schema_migrations');
      version = Number(m.rows[0]?.v);
    }
    out.push(migrated(tables, version, Math.max(...PG_MIGRATIONS.map((m) => m.version))));
    const ext = await client.query<{ installed: string | null; available: string | null }>(
      "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS installed, " +
        "(SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS available",
    );
    const e = ext.rows[0];
    if (e?.installed) out.push(ok('store.timescaledb', 'TimescaleDB', `installed, version ${e.installed}`));
    else if (e?.available)
      out.push(
        warn(
          'store.timescaledb',
          'TimescaleDB',
          `available (${e.available}) but not enabled in this database: plain PostgreSQL tables`,
          'psql "$DATABASE_URL" -c "CREATE EXTENSION timescaledb", then restart the worker',
        ),
      );
    else out.push(ok('store.timescaledb', 'TimescaleDB', 'not installed: plain PostgreSQL (works; no compression)'));
    return out;
  } catch (err) {
    return [fail('store.reachable', 'Store reachable', why(err), 'check the database user permissions')];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Store reachable, migrated, TimescaleDB present or not; SQLite: its
 * retention (`rawRetentionMs`, from CANOPY_RETENTION_RAW_DAYS) and growth per day.
 */
export async function storeChecks(databaseUrl: string, timeoutMs = 3000, rawRetentionMs = 0): Promise<CheckResult[]> {
  let store;
  try {
    store = parseStoreUrl(databaseUrl);
  } catch (err) {
    return [fail('store.reachable', 'Store reachable', why(err), 'set DATABASE_URL to sqlite:PATH or postgres://…')];
  }
  return store.kind === 'sqlite'
    ? sqliteChecks(store.file, rawRetentionMs / DAY_MS)
    : postgresChecks(store.url, timeoutMs);
}
