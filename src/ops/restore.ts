import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  BackupError,
  parseStoreUrl,
  pgCounts,
  pgEnv,
  runTool,
  sha256File,
  sqliteCounts,
  type BackupManifest,
} from './backup.js';

/** `canopy restore`. */
export interface RestoreOptions {
  /** A `canopy-backup-<time>` directory. */
  from: string;
  /** `sqlite:PATH` or `postgres://…` of the fresh install (DATABASE_URL). */
  databaseUrl: string;
  /** @defaultValue none — where the configuration files go back to. */
  configDir?: string;
  /** @defaultValue false — replace an existing store / config files instead of refusing. */
  force: boolean;
  /** @defaultValue `pg_restore` on PATH */
  pgRestore: string;
}

export const RESTORE_DEFAULTS = { force: false, pgRestore: 'pg_restore' };

export interface RestoreResult {
  manifest: BackupManifest;
  /** Row counts of the restored store, equal to the manifest's. */
  tables: Record<string, number>;
  config: string[];
  /** Env files written back with redacted values to fill in: file → keys. */
  toFillIn: Record<string, string[]>;
}

export function readManifest(dir: string): BackupManifest {
  const file = path.join(dir, 'manifest.json');
  if (!fs.existsSync(file))
    throw new BackupError('BACKUP_INVALID', `${dir} is not a complete Canopy backup (no manifest.json)`);
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as BackupManifest;
  if (m.format !== 'canopy-backup/1')
    throw new BackupError('BACKUP_INVALID', `unknown backup format ${String(m.format)}`);
  const store = path.join(dir, m.store.file);
  if (!fs.existsSync(store) || sha256File(store) !== m.store.sha256)
    throw new BackupError('BACKUP_INVALID', `${m.store.file} is missing or does not match its checksum`);
  return m;
}

function sameCounts(want: Record<string, number>, got: Record<string, number>): void {
  for (const [t, n] of Object.entries(want)) {
    if (got[t] !== n)
      throw new BackupError('BACKUP_INVALID', `restored ${t} has ${got[t] ?? 'no'} rows, the backup ${n}`);
  }
}

async function restoreSqlite(src: string, file: string, force: boolean, want: Record<string, number>) {
  if (fs.existsSync(file) && !force)
    throw new BackupError(
      'RESTORE_TARGET',
      `${file} exists: restore onto a fresh install, or pass --force to replace it`,
    );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.restoring`;
  fs.copyFileSync(src, tmp);
  for (const suffix of ['-wal', '-shm', '-journal']) fs.rmSync(file + suffix, { force: true });
  fs.renameSync(tmp, file);
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('journal_mode = WAL');
    const got = sqliteCounts(db);
    sameCounts(want, got);
    return got;
  } finally {
    db.close();
  }
}

async function restorePostgres(
  dump: string,
  url: string,
  o: RestoreOptions,
  m: Extract<BackupManifest['store'], { kind: 'postgres' }>,
) {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    throw new BackupError('RESTORE_TARGET', `PostgreSQL is unreachable: ${(err as Error).message}`, { cause: err });
  }
  try {
    const existing = await client.query(
      "SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' LIMIT 1",
    );
    if (existing.rowCount && !o.force)
      throw new BackupError(
        'RESTORE_TARGET',
        'the target database has tables: restore into an empty database, or pass --force',
      );
    if (m.timescaledb) {
      await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
      await client.query('SELECT timescaledb_pre_restore()');
    }
    const args = ['--no-owner', '--exit-on-error', '--single-transaction', '-d', pgEnv(url).PGDATABASE as string];
    if (o.force) args.push('--clean', '--if-exists');
    try {
      await runTool(o.pgRestore, [...args, dump], pgEnv(url));
    } finally {
      if (m.timescaledb) await client.query('SELECT timescaledb_post_restore()');
    }
    const got = await pgCounts(client);
    sameCounts(m.tables, got);
    return got;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Restores a backup onto a fresh install and checks every table's row count against the manifest. */
export async function restore(
  input: Pick<RestoreOptions, 'from' | 'databaseUrl'> & Partial<RestoreOptions>,
): Promise<RestoreResult> {
  const o: RestoreOptions = { ...RESTORE_DEFAULTS, ...input };
  const m = readManifest(o.from);
  const target = parseStoreUrl(o.databaseUrl);
  if (target.kind !== m.store.kind)
    throw new BackupError(
      'RESTORE_TARGET',
      `the backup holds a ${m.store.kind} store but DATABASE_URL is ${target.kind}: use canopy migrate to move between them`,
    );
  const src = path.join(o.from, m.store.file);
  const tables =
    target.kind === 'sqlite'
      ? await restoreSqlite(src, target.file, o.force, m.store.tables)
      : await restorePostgres(src, target.url, o, m.store as Extract<BackupManifest['store'], { kind: 'postgres' }>);
  const config: string[] = [];
  const toFillIn: Record<string, string[]> = {};
  if (o.configDir) {
    const dir = o.configDir;
    fs.mkdirSync(dir, { recursive: true });
    for (const rel of m.config) {
      const dest = path.join(dir, rel);
      if (fs.existsSync(dest) && !o.force) continue;
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(path.join(o.from, 'config', rel), dest);
      config.push(rel);
    }
    for (const e of m.env) {
      if (e.skipped) continue;
      const dest = path.join(dir, e.file);
      if (fs.existsSync(dest) && !o.force) continue;
      fs.copyFileSync(path.join(o.from, 'env', e.file), dest);
      fs.chmodSync(dest, 0o600);
      config.push(e.file);
      if (e.redacted.length > 0) toFillIn[e.file] = e.redacted;
    }
  }
  return { manifest: m, tables, config, toFillIn };
}
