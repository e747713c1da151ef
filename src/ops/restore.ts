import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  BACKUP_FORMAT,
  BackupError,
  parseStoreUrl,
  pgCounts,
  pgEnv,
  runTool,
  sqliteCounts,
  type BackupManifest,
} from './backup.js';
import {
  checkBackupTree,
  checkUnder,
  copyVerified,
  readVerified,
  safeRelPath,
  writeUnder,
  type BackupFileEntry,
} from './backup-files.js';

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
  /** Configuration files the backup left out (credentials, tokens): recreate them. */
  excluded: BackupManifest['excluded'];
}

/** The store file of each kind: fixed names, never taken from the manifest. */
const STORE_FILES = { sqlite: 'store/canopy.db', postgres: 'store/canopy.dump' } as const;

const invalid = (msg: string) => new BackupError('BACKUP_INVALID', msg);

/**
 * Reads and checks a backup before anything is written: the manifest's
 * shape, every path in it (relative, no `..`, inside store/, config/ or
 * env/), the directory itself (no symlink, hard link or special file
 * anywhere) and the SHA-256 of every file. Returns the manifest, the file
 * entries by path, and the configuration and env files' contents.
 */
export function readManifest(dir: string): BackupManifest & { byPath: Map<string, BackupFileEntry> } {
  const file = path.join(dir, 'manifest.json');
  if (!fs.existsSync(file)) throw invalid(`${dir} is not a complete Canopy backup (no manifest.json)`);
  checkBackupTree(dir);
  let m: BackupManifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as BackupManifest;
  } catch (err) {
    throw new BackupError('BACKUP_INVALID', `manifest.json is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof m !== 'object' || m === null) throw invalid('manifest.json is not an object');
  if (m.format !== BACKUP_FORMAT)
    throw invalid(
      `unknown backup format ${JSON.stringify(m.format)} (this canopy restores ${BACKUP_FORMAT}, which records a SHA-256 per file)`,
    );
  const store = m.store as Partial<BackupManifest['store']> | undefined;
  if (!store || (store.kind !== 'sqlite' && store.kind !== 'postgres')) throw invalid('the manifest names no store');
  if (store.file !== STORE_FILES[store.kind])
    throw new BackupError('BACKUP_UNSAFE', `refused store path ${JSON.stringify(store.file)} in the manifest`);
  if (!Array.isArray(m.files) || !Array.isArray(m.config) || !Array.isArray(m.env))
    throw invalid('the manifest lacks files, config or env');
  const byPath = new Map<string, BackupFileEntry>();
  for (const f of m.files as unknown[]) {
    const e = f as Partial<BackupFileEntry>;
    const p = safeRelPath(e?.path);
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256) || !Number.isSafeInteger(e.bytes))
      throw invalid(`the manifest entry of ${p} has no valid sha256 and size`);
    byPath.set(p, { path: p, sha256: e.sha256, bytes: e.bytes as number });
  }
  const need = (p: string) => {
    const e = byPath.get(safeRelPath(p));
    if (!e) throw invalid(`${p} has no SHA-256 in the manifest`);
    return e;
  };
  const st = need(store.file);
  if (st.sha256 !== store.sha256) throw invalid(`${store.file}: two different checksums in the manifest`);
  for (const c of m.config as unknown[]) {
    if (typeof c !== 'string') throw invalid('a config entry of the manifest is not a path');
    need(`config/${c}`);
  }
  for (const e of m.env as Array<{ file?: unknown; skipped?: unknown }>) {
    if (e.skipped) continue;
    if (typeof e.file !== 'string' || e.file.includes('/'))
      throw new BackupError('BACKUP_UNSAFE', `refused env file ${JSON.stringify(e.file)}`);
    need(`env/${e.file}`);
  }
  return { ...m, byPath };
}

function sameCounts(want: Record<string, number>, got: Record<string, number>): void {
  for (const [t, n] of Object.entries(want)) {
    if (got[t] !== n)
      throw new BackupError('BACKUP_INVALID', `restored ${t} has ${got[t] ?? 'no'} rows, the backup ${n}`);
  }
}

/** Gives a file restored as root to the owner of its directory (the service user of the data directory). */
function ownLikeParent(fd: number, file: string): void {
  if (process.getuid?.() !== 0) return;
  const st = fs.statSync(path.dirname(file));
  fs.fchownSync(fd, st.uid, st.gid);
}

async function restoreSqlite(
  from: string,
  entry: BackupFileEntry,
  file: string,
  force: boolean,
  want: Record<string, number>,
) {
  if (fs.existsSync(file) && !force)
    throw new BackupError(
      'RESTORE_TARGET',
      `${file} exists: restore onto a fresh install, or pass --force to replace it`,
    );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // the data directory belongs to the service user: a name it planted (a
  // symlink at the temporary name) is removed, never followed
  const tmp = `${file}.restoring`;
  fs.rmSync(tmp, { force: true });
  await copyVerified(from, entry, tmp);
  const fd = fs.openSync(tmp, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    ownLikeParent(fd, tmp);
    fs.fchmodSync(fd, 0o640);
  } finally {
    fs.closeSync(fd);
  }
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
  from: string,
  entry: BackupFileEntry,
  url: string,
  o: RestoreOptions,
  m: Extract<BackupManifest['store'], { kind: 'postgres' }>,
) {
  // pg_restore reads a private copy whose every byte was hashed on the way
  const priv = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-restore-'));
  const dump = path.join(priv, 'canopy.dump');
  const client = new pg.Client({ connectionString: url });
  try {
    await copyVerified(from, entry, dump);
    try {
      await client.connect();
    } catch (err) {
      throw new BackupError('RESTORE_TARGET', `PostgreSQL is unreachable: ${(err as Error).message}`, { cause: err });
    }
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
    fs.rmSync(priv, { recursive: true, force: true });
  }
}

/**
 * Restores a backup onto a fresh install and checks every table's row
 * count against the manifest. Everything is checked first (paths, links,
 * SHA-256 of every file); a backup that fails a check is refused before
 * anything is written. Configuration files are written atomically under
 * `configDir` (never through a symlink there).
 */
export async function restore(
  input: Pick<RestoreOptions, 'from' | 'databaseUrl'> & Partial<RestoreOptions>,
): Promise<RestoreResult> {
  const o: RestoreOptions = { ...RESTORE_DEFAULTS, ...input };
  const { byPath, ...m } = readManifest(o.from);
  const target = parseStoreUrl(o.databaseUrl);
  if (target.kind !== m.store.kind)
    throw new BackupError(
      'RESTORE_TARGET',
      `the backup holds a ${m.store.kind} store but DATABASE_URL is ${target.kind}: use canopy migrate to move between them`,
    );
  // every configuration and env file read and verified before the first write
  const configFiles = m.config.map((rel) => ({ rel, data: readVerified(o.from, byPath.get(`config/${rel}`)!) }));
  const envFiles = m.env
    .filter((e) => !e.skipped)
    .map((e) => ({ e, data: readVerified(o.from, byPath.get(`env/${e.file}`)!) }));
  if (o.configDir) {
    const dir = o.configDir;
    for (const rel of [...m.config, ...envFiles.map((f) => f.e.file)]) checkUnder(dir, rel);
  }
  const storeEntry = byPath.get(m.store.file)!;
  const tables =
    target.kind === 'sqlite'
      ? await restoreSqlite(o.from, storeEntry, target.file, o.force, m.store.tables)
      : await restorePostgres(
          o.from,
          storeEntry,
          target.url,
          o,
          m.store as Extract<BackupManifest['store'], { kind: 'postgres' }>,
        );
  const config: string[] = [];
  const toFillIn: Record<string, string[]> = {};
  if (o.configDir) {
    const dir = o.configDir;
    fs.mkdirSync(dir, { recursive: true });
    for (const { rel, data } of configFiles) {
      if (fs.existsSync(path.join(dir, rel)) && !o.force) continue;
      // as install.sh leaves them: root-owned, readable by the group of the directory (canopy)
      writeUnder(dir, rel, data, 0o640, process.getuid?.() === 0 ? fs.statSync(dir).gid : undefined);
      config.push(rel);
    }
    for (const { e, data } of envFiles) {
      if (fs.existsSync(path.join(dir, e.file)) && !o.force) continue;
      writeUnder(dir, e.file, data, 0o600);
      config.push(e.file);
      if (e.redacted.length > 0) toFillIn[e.file] = e.redacted;
    }
  }
  return { manifest: m, tables, config, toFillIn, excluded: m.excluded };
}
