import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { parseDatabaseUrl } from '../store/options.js';
import { BackupError } from './backup-error.js';
import { copyConfigTree, sha256, sha256File, type BackupFileEntry, type ExcludedFile } from './backup-files.js';

export { BackupError, type BackupErrorCode } from './backup-error.js';
export { sha256File } from './backup-files.js';

/** What a backup holds; written last, so a directory without it is incomplete. */
export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  created_at: string;
  canopy_version: string;
  store:
    | { kind: 'sqlite'; file: string; sha256: string; bytes: number; tables: Record<string, number> }
    | {
        kind: 'postgres';
        file: string;
        sha256: string;
        bytes: number;
        tables: Record<string, number>;
        timescaledb: string | null;
      };
  /** Configuration files, relative to `config/`. */
  config: string[];
  env: { file: string; redacted: string[]; skipped?: string }[];
  /** Every file of the backup but this manifest, relative to the backup directory, with its SHA-256. */
  files: BackupFileEntry[];
  /** Configuration files left out: credentials and tokens (never copied), symlinks, unreadable files. */
  excluded: ExcludedFile[];
  /** True when `--include-secrets` kept the secret values of env files. */
  secrets_included: boolean;
}

/** Version 2 added `files` (a SHA-256 per file) and `excluded`; a restore refuses anything older. */
export const BACKUP_FORMAT = 'canopy-backup/2';

/** `canopy backup`. */
export interface BackupOptions {
  /** `sqlite:PATH` or `postgres://…` (DATABASE_URL). */
  databaseUrl: string;
  /** Directory that receives `canopy-backup-<UTC time>/`. */
  outDir: string;
  /** @defaultValue none — configuration directory copied into `config/` (files, recursively). */
  configDir?: string;
  /** @defaultValue the `*.env` files of `configDir` — environment files copied into `env/`. */
  envFiles?: string[];
  /** @defaultValue false — false replaces secret values in env files by `***REDACTED***`. */
  includeSecrets: boolean;
  /** @defaultValue 0 (keep all) — after a successful backup, keep only the newest N. */
  keep: number;
  /** @defaultValue `pg_dump` on PATH */
  pgDump: string;
  /** @defaultValue now */
  now: Date;
  /** @defaultValue `unknown` */
  version: string;
}

export const BACKUP_DEFAULTS = { includeSecrets: false, keep: 0, pgDump: 'pg_dump', version: 'unknown' };
export const BACKUP_PREFIX = 'canopy-backup-';
export const REDACTED = '***REDACTED***';

/** A store location parsed from DATABASE_URL. */
export type StoreUrl = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** DATABASE_URL as the store reads it (src/store), with the SQLite path made absolute. */
export function parseStoreUrl(url: string): StoreUrl {
  let t: ReturnType<typeof parseDatabaseUrl>;
  try {
    t = parseDatabaseUrl(url);
  } catch (err) {
    throw new BackupError('BACKUP_CONFIG', (err as Error).message, { cause: err });
  }
  return t.kind === 'sqlite' ? { kind: 'sqlite', file: path.resolve(t.path) } : t;
}

/** libpq environment for a postgres URL: the password travels in PGPASSWORD, never on a command line. */
export function pgEnv(url: string): NodeJS.ProcessEnv {
  const u = new URL(url);
  const env: NodeJS.ProcessEnv = {
    PGHOST: u.hostname || '127.0.0.1',
    PGPORT: u.port || '5432',
    PGDATABASE: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
  };
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  const ssl = u.searchParams.get('sslmode');
  if (ssl) env.PGSSLMODE = ssl;
  return env;
}

/** Runs a tool to completion; rejects with its stderr on a non-zero exit. */
export function runTool(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', (e) => reject(new BackupError('BACKUP_TOOL', `${cmd}: ${e.message}`, { cause: e })));
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new BackupError('BACKUP_TOOL', `${cmd} exited with ${code}: ${err.trim()}`)),
    );
  });
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** Row counts of every table of a SQLite database. */
export function sqliteCounts(db: Database.Database): Record<string, number> {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .pluck()
    .all() as string[];
  return Object.fromEntries(
    tables.map((t) => [
      t,
      Number(
        db
          .prepare(`SELECT count(*) FROM ${quoteIdent(t)}`)
          .pluck()
          .get(),
      ),
    ]),
  );
}

/** Row counts of every ordinary table in `public` (hypertables count their chunks), in the client's transaction. */
export async function pgCounts(client: pg.Client): Promise<Record<string, number>> {
  const r = await client.query<{ t: string }>(
    "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
  );
  const out: Record<string, number> = {};
  for (const { t } of r.rows) {
    const c = await client.query<{ n: string }>(`SELECT count(*) AS n FROM public.${quoteIdent(t)}`);
    out[t] = Number(c.rows[0]?.n ?? 0);
  }
  return out;
}

const SECRET_KEY = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|_PASS$|^PASS)/i;

/** An env file with secret values replaced; returns the text and the keys redacted. */
export function redactEnv(text: string): { text: string; redacted: string[] } {
  const redacted: string[] = [];
  const lines = text.split('\n').map((line) => {
    const m = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) return line;
    const [, pre, key, value] = m as unknown as [string, string, string, string];
    if (SECRET_KEY.test(key) && value.trim() !== '') {
      redacted.push(key);
      return `${pre}${key}=${REDACTED}`;
    }
    // credentials inside a URL: scheme://user:password@host
    const url = value.replace(/(\w+:\/\/[^:/@\s]*:)([^@\s]+)@/, (_all, head: string) => `${head}${REDACTED}@`);
    if (url !== value) {
      redacted.push(key);
      return `${pre}${key}=${url}`;
    }
    return line;
  });
  return { text: lines.join('\n'), redacted };
}

function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

async function backupSqlite(file: string, destDir: string): Promise<BackupManifest['store']> {
  if (!fs.existsSync(file)) throw new BackupError('BACKUP_STORE', `the SQLite store ${file} does not exist`);
  const src = new Database(file, { fileMustExist: true });
  const dest = path.join(destDir, 'canopy.db');
  try {
    // SQLite's online backup API: a consistent copy while writers go on. A
    // write by another process restarts a backup that is copied in small
    // steps, so after the first step the rest goes in one step (one read
    // snapshot; in WAL mode writers are not blocked meanwhile).
    await src.backup(dest, { progress: ({ totalPages }) => totalPages + 1 });
  } catch (err) {
    throw new BackupError('BACKUP_STORE', `SQLite backup of ${file} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    src.close();
  }
  const copy = new Database(dest);
  try {
    const check = copy.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new BackupError('BACKUP_STORE', `the copy fails its integrity check: ${String(check)}`);
    copy.pragma('journal_mode = DELETE'); // one self-contained file
    const tables = sqliteCounts(copy);
    copy.close();
    return {
      kind: 'sqlite',
      file: 'store/canopy.db',
      sha256: await sha256File(dest),
      bytes: fs.statSync(dest).size,
      tables,
    };
  } finally {
    if (copy.open) copy.close();
  }
}

async function backupPostgres(url: string, destDir: string, pgDump: string): Promise<BackupManifest['store']> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    throw new BackupError('BACKUP_STORE', `PostgreSQL is unreachable: ${(err as Error).message}`, { cause: err });
  }
  const dest = path.join(destDir, 'canopy.dump');
  try {
    // one snapshot for the row counts and for pg_dump: the manifest describes exactly the dump
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snap = await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s');
    const tsdb = await client.query<{ v: string }>(
      "SELECT extversion AS v FROM pg_extension WHERE extname = 'timescaledb'",
    );
    const tables = await pgCounts(client);
    await runTool(pgDump, ['-Fc', '--no-owner', `--snapshot=${snap.rows[0]?.s}`, '-f', dest], pgEnv(url));
    await client.query('COMMIT');
    return {
      kind: 'postgres',
      file: 'store/canopy.dump',
      sha256: await sha256File(dest),
      bytes: fs.statSync(dest).size,
      tables,
      timescaledb: tsdb.rows[0]?.v ?? null,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Backups under `outDir`, oldest first (complete ones only: they have a manifest). */
export function listBackups(outDir: string): string[] {
  if (!fs.existsSync(outDir)) return [];
  return fs
    .readdirSync(outDir)
    .filter((n) => n.startsWith(BACKUP_PREFIX) && !n.endsWith('.partial'))
    .filter((n) => fs.existsSync(path.join(outDir, n, 'manifest.json')))
    .sort()
    .map((n) => path.join(outDir, n));
}

/**
 * A consistent online backup of the store and the configuration into
 * `outDir/canopy-backup-<time>/` (built as `.partial` and renamed when
 * complete), then rotation. Returns the directory and its manifest.
 */
export async function backup(input: Pick<BackupOptions, 'databaseUrl' | 'outDir'> & Partial<BackupOptions>): Promise<{
  dir: string;
  manifest: BackupManifest;
  removed: string[];
}> {
  const o: BackupOptions = { ...BACKUP_DEFAULTS, now: new Date(), ...input };
  if (!Number.isInteger(o.keep) || o.keep < 0)
    throw new BackupError('BACKUP_CONFIG', `keep must be >= 0, got ${o.keep}`);
  const store = parseStoreUrl(o.databaseUrl);
  fs.mkdirSync(o.outDir, { recursive: true, mode: 0o700 });
  const name = `${BACKUP_PREFIX}${stamp(o.now)}`;
  const final = path.join(o.outDir, name);
  if (fs.existsSync(final)) throw new BackupError('BACKUP_CONFIG', `${final} exists already`);
  const work = `${final}.partial`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, 'store'), { recursive: true, mode: 0o700 });
  fs.chmodSync(work, 0o700);
  try {
    const storeEntry =
      store.kind === 'sqlite'
        ? await backupSqlite(store.file, path.join(work, 'store'))
        : await backupPostgres(store.url, path.join(work, 'store'), o.pgDump);
    const files: BackupFileEntry[] = [{ path: storeEntry.file, sha256: storeEntry.sha256, bytes: storeEntry.bytes }];
    const config: string[] = [];
    const excluded: ExcludedFile[] = [];
    if (o.configDir && fs.existsSync(o.configDir)) {
      const tree = copyConfigTree(o.configDir, path.join(work, 'config'));
      for (const f of tree.files) {
        config.push(f.path);
        files.push({ ...f, path: `config/${f.path}` });
      }
      excluded.push(...tree.excluded);
    }
    const envFiles =
      o.envFiles ??
      (o.configDir && fs.existsSync(o.configDir)
        ? fs
            .readdirSync(o.configDir)
            .filter((f) => f.endsWith('.env'))
            .map((f) => path.join(o.configDir as string, f))
        : []);
    const env: BackupManifest['env'] = [];
    for (const f of envFiles) {
      const base = path.basename(f);
      let text: string;
      try {
        text = fs.readFileSync(f, 'utf8');
      } catch (err) {
        env.push({ file: base, redacted: [], skipped: (err as NodeJS.ErrnoException).code ?? 'unreadable' });
        continue;
      }
      const r = o.includeSecrets ? { text, redacted: [] } : redactEnv(text);
      fs.mkdirSync(path.join(work, 'env'), { recursive: true, mode: 0o700 });
      const buf = Buffer.from(r.text, 'utf8');
      fs.writeFileSync(path.join(work, 'env', base), buf, { mode: 0o600, flag: 'wx' });
      env.push({ file: base, redacted: r.redacted });
      files.push({ path: `env/${base}`, sha256: sha256(buf), bytes: buf.length });
    }
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      created_at: o.now.toISOString(),
      canopy_version: o.version,
      store: storeEntry,
      config,
      env,
      files,
      excluded,
      secrets_included: o.includeSecrets,
    };
    fs.writeFileSync(path.join(work, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(work, final);
    const removed: string[] = [];
    if (o.keep > 0) {
      const all = listBackups(o.outDir);
      for (const old of all.slice(0, Math.max(0, all.length - o.keep))) {
        fs.rmSync(old, { recursive: true, force: true });
        removed.push(old);
      }
    }
    return { dir: final, manifest, removed };
  } catch (err) {
    fs.rmSync(work, { recursive: true, force: true });
    throw err;
  }
}
