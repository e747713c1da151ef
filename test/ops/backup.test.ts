import { spawnSync } from '../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { backup, BackupError, listBackups, redactEnv, REDACTED } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { openStore } from '../../src/store/index.js';
import { startPostgres } from '../support/postgres.js';
import { tempDir } from '../support/tmp.js';
import { spawnWatched } from './proc.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve('dist/src/cli/main.js');

function canopy(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

/** A configuration directory: one config file, one env file with secrets. */
function configDir(): string {
  const dir = tempDir('canopy-conf-');
  fs.writeFileSync(path.join(dir, 'nodes.yaml'), 'nodes:\n  1: { location: Flower Room, cluster: front }\n');
  fs.mkdirSync(path.join(dir, 'dbc'));
  fs.writeFileSync(path.join(dir, 'dbc', 'canopy.dbc'), 'VERSION ""\n');
  fs.writeFileSync(
    path.join(dir, 'canopy.env'),
    'LOG_LEVEL=info\nREDIS_URL=redis://canopy-worker:hunter2@127.0.0.1:6379\nSMTP_PASSWORD=pa55\n',
    { mode: 0o600 },
  );
  return dir;
}

async function startWriter(script: string, target: string) {
  const w = spawnWatched(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures', script), target]);
  await w.waitFor(/^committed (\d*[02468]000)$/, 30_000); // a few thousand rows in
  const committed = () => Math.max(0, ...w.lines.map((l) => Number(/^committed (\d+)$/.exec(l)?.[1] ?? 0)));
  return { w, committed };
}

describe('canopy backup / restore', () => {
  it('SQLite: backup while the store is written, restored into a fresh store, holds every row committed before it', async () => {
    const data = tempDir('canopy-data-');
    const file = path.join(data, 'canopy.db');
    const w = spawnWatched(process.execPath, [
      '--import',
      'tsx',
      path.join(here, 'fixtures', 'store-writer.ts'),
      `sqlite:${file}`,
    ]);
    await w.waitFor(/^committed (\d*[02468]000)$/, 60_000); // a few thousand frames in
    const committed = () => Math.max(0, ...w.lines.map((l) => Number(/^committed (\d+)$/.exec(l)?.[1] ?? 0)));
    const conf = configDir();
    const out = tempDir('canopy-backups-');
    const before = committed();
    const b = canopy(['backup', '--out', out, '--config-dir', conf, '--json'], { DATABASE_URL: `sqlite:${file}` });
    expect(b.stderr).toBe('');
    expect(b.status).toBe(0);
    const { dir, manifest } = JSON.parse(b.stdout) as {
      dir: string;
      manifest: { store: { tables: Record<string, number> } };
    };
    const n = manifest.store.tables.can_messages as number;
    expect(n).toBeGreaterThanOrEqual(before);
    expect(n % 100).toBe(0); // a transaction boundary: the copy is consistent
    expect(manifest.store.tables.sensor_readings).toBe(n);
    await w.waitFor(new RegExp(`^committed ${n + 1000}$`)); // the writer was never blocked
    w.child.kill('SIGTERM');
    await w.exited;

    const fresh = tempDir('canopy-fresh-');
    const freshDb = path.join(fresh, 'canopy.db');
    const r = canopy(['restore', dir, '--config-dir', path.join(fresh, 'etc')], { DATABASE_URL: `sqlite:${freshDb}` });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/all counts match/);
    expect(r.stdout).toMatch(/fill in the redacted REDIS_URL, SMTP_PASSWORD in canopy.env/);
    // the restored store opens with the store module and holds exactly the first n frames
    const store = await openStore(`sqlite:${freshDb}`);
    expect(await store.countMessages()).toBe(n);
    expect(await store.countReadings()).toBe(n);
    await store.close();
    const db = new Database(freshDb, { readonly: true });
    db.exec(`ATTACH DATABASE '${file}' AS src`);
    const same = db
      .prepare(
        `SELECT count(*) FROM main.sensor_readings a JOIN src.sensor_readings b
           ON a.time = b.time AND a.sensor = b.sensor AND a.value = b.value`,
      )
      .pluck()
      .get();
    expect(same).toBe(n);
    const last = db.prepare('SELECT max(time) FROM main.sensor_readings').pluck().get();
    expect(last).toBe(1_700_000_000_000 + n * 10);
    db.close();
    expect(fs.readFileSync(path.join(fresh, 'etc', 'dbc', 'canopy.dbc'), 'utf8')).toBe('VERSION ""\n');
    const env = fs.readFileSync(path.join(fresh, 'etc', 'canopy.env'), 'utf8');
    expect(env).not.toContain('hunter2');
    expect(env).not.toContain('pa55');
    expect(env).toContain('LOG_LEVEL=info');
    expect(fs.statSync(path.join(fresh, 'etc', 'canopy.env')).mode & 0o777).toBe(0o600);

    // a second restore onto the now populated install is refused
    const again = canopy(['restore', dir], { DATABASE_URL: `sqlite:${freshDb}` });
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/exists: restore onto a fresh install, or pass --force/);
  });

  it('PostgreSQL: pg_dump while a writer commits, pg_restore into a fresh database, every row present', async () => {
    const server = await startPostgres();
    const url = await server.createDatabase();
    const { w, committed } = await startWriter('store-writer.ts', url);
    const out = tempDir('canopy-backups-');
    const before = committed();
    const { dir, manifest } = await backup({ databaseUrl: url, outDir: out });
    const n = manifest.store.tables.can_messages as number;
    expect(manifest.store.kind).toBe('postgres');
    expect(n).toBeGreaterThanOrEqual(before);
    expect(n % 100).toBe(0); // one snapshot: whole batches only
    expect(manifest.store.tables.sensor_readings).toBe(n);
    expect(manifest.store.tables.ingested_entries).toBe(n);
    await w.waitFor(new RegExp(`^committed ${n + 1000}$`));
    w.child.kill('SIGTERM');
    await w.exited;

    const target = await server.createDatabase();
    const r = await restore({ from: dir, databaseUrl: target });
    expect(r.tables.can_messages).toBe(n);
    // the restored database opens with the store, at its schema version, with the first n frames
    const store = await openStore(target, { sweepIntervalMs: 0 });
    expect(await store.countMessages()).toBe(n);
    expect(await store.countReadings()).toBe(n);
    await store.close();
    const c = new pg.Client({ connectionString: target });
    await c.connect();
    const src = new pg.Client({ connectionString: url });
    await src.connect();
    const digest =
      "SELECT count(*) AS n, md5(string_agg(stream_id, ',' ORDER BY stream_id)) AS h FROM ingested_entries WHERE stream_id <= $1";
    const lastId = `${1_700_000_000_000 + n}-0`;
    const want = (await src.query(digest, [lastId])).rows[0];
    expect(want.n).toBe(String(n));
    expect((await c.query(digest, [lastId])).rows[0]).toEqual(want);
    const readings =
      "SELECT md5(string_agg(sensor || value || extract(epoch from time), ',' ORDER BY time)) AS h FROM sensor_readings WHERE time <= to_timestamp($1 / 1000.0)";
    const lastT = 1_700_000_000_000 + n * 10;
    expect((await c.query(readings, [lastT])).rows[0]).toEqual((await src.query(readings, [lastT])).rows[0]);
    await src.end();
    // restoring into a database that has tables is refused
    await expect(restore({ from: dir, databaseUrl: target })).rejects.toMatchObject({ code: 'RESTORE_TARGET' });
    await c.end();
  });

  it('rotation keeps the newest N; a broken or foreign backup is refused', async () => {
    const data = tempDir('canopy-data-');
    const file = path.join(data, 'canopy.db');
    const db = new Database(file);
    db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    db.close();
    const out = tempDir('canopy-backups-');
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await backup({
        databaseUrl: `sqlite:${file}`,
        outDir: out,
        keep: 2,
        now: new Date(Date.UTC(2026, 0, 1 + i)),
      });
      made.push(r.dir);
    }
    expect(listBackups(out)).toEqual(made.slice(2));
    fs.appendFileSync(path.join(made[3] as string, 'store', 'canopy.db'), 'garbage');
    await expect(
      restore({ from: made[3] as string, databaseUrl: `sqlite:${path.join(data, 'other.db')}` }),
    ).rejects.toMatchObject({ code: 'BACKUP_INVALID' });
    await expect(restore({ from: made[2] as string, databaseUrl: 'postgres://x@127.0.0.1:1/y' })).rejects.toThrow(
      /holds a sqlite store/,
    );
    await expect(backup({ databaseUrl: 'mysql://x', outDir: out })).rejects.toBeInstanceOf(BackupError);
    await expect(backup({ databaseUrl: `sqlite:${path.join(data, 'missing.db')}`, outDir: out })).rejects.toMatchObject(
      {
        code: 'BACKUP_STORE',
      },
    );
    expect(fs.readdirSync(out).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  it('redacts secrets in env files', () => {
    const r = redactEnv(
      'A=1\nDB_PASSWORD=x\nexport API_TOKEN=y\nDATABASE_URL=postgres://u:p@h/db\nEMPTY_SECRET=\n# PASSWORD=z',
    );
    expect(r.redacted).toEqual(['DB_PASSWORD', 'API_TOKEN', 'DATABASE_URL']);
    expect(r.text).toBe(
      `A=1\nDB_PASSWORD=${REDACTED}\nexport API_TOKEN=${REDACTED}\nDATABASE_URL=postgres://u:${REDACTED}@h/db\nEMPTY_SECRET=\n# PASSWORD=z`,
    );
  });
});
