import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync, spawnSync } from './run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { freePort, waitForPort } from '../../src/ops/ports.js';
import { register } from './cleanup.js';
import { killPostgres } from './pg-kill.js';
import { tempDir } from './tmp.js';

/** Directory holding initdb/pg_ctl/postgres: PATH first, then Debian's layout. */
export function pgBinDir(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return path.dirname(fs.realpathSync(onPath));
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const dir = path.join(base, v, 'bin');
    if (fs.existsSync(path.join(dir, 'initdb'))) return dir;
  }
  throw new Error('PostgreSQL server binaries not found: sudo apt-get install -y postgresql');
}

export interface TestPostgres {
  port: number;
  /** URL of the `postgres` database (superuser `postgres`, trust auth on loopback). */
  url: string;
  /** The cluster's data directory (every process of the server works there). */
  dataDir: string;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  kill(): Promise<void>;
  /** Stops (fast shutdown) — the store is "down" until {@link restart}. */
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export interface StartPostgresOptions {
  /**
   * Roles other than `postgres` must log in with their password (SCRAM) over
   * TCP, as on a real install; `postgres` keeps trust auth.
   * @defaultValue false
   */
  passwordAuth?: boolean;
}

/**
 * initdb + postgres on a free loopback port in a temporary directory. When
 * run as root the cluster belongs to `nobody` (PostgreSQL refuses root).
 */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<TestPostgres> {
  const bin = pgBinDir();
  const root = tempDir('canopy-pg-');
  const data = path.join(root, 'data');
  const ids: { uid?: number; gid?: number } = {};
  if (process.getuid?.() === 0) {
    ids.uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    ids.gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
    fs.chownSync(root, ids.uid, ids.gid);
  }
  const env = { ...process.env, LC_ALL: 'C', HOME: root };
  const init = spawnSync(
    path.join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'],
    { ...ids, env, encoding: 'utf8' },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  if (opts.passwordAuth)
    fs.writeFileSync(
      path.join(data, 'pg_hba.conf'),
      'local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n',
    );
  const port = await freePort();
  let child: ChildProcess | undefined;
  const spawnPg = async () => {
    child = spawn(
      path.join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        root,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=200',
        '-c',
        'shared_buffers=128MB',
      ],
      // a session of its own, away from the test worker's signals; a kill names every process (pg-kill.ts)
      { ...ids, env, detached: true, stdio: ['ignore', 'ignore', fs.openSync(path.join(root, 'pg.log'), 'a')] },
    );
    await waitForPort(port, '127.0.0.1', 30_000);
    // the port opens before recovery ends: wait for a query to succeed
    for (let i = 0; ; i++) {
      const c = new pg.Client({ connectionString: url });
      try {
        await c.connect();
        await c.query('select 1');
        await c.end();
        return;
      } catch (err) {
        await c.end().catch(() => undefined);
        if (i > 300) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const signal = async (sig: NodeJS.Signals) => {
    const c = child;
    if (!c || !alive()) return;
    const done = new Promise<void>((r) => c.once('exit', () => r()));
    if (sig === 'SIGKILL') killPostgres(c.pid, data);
    else c.kill(sig);
    await done;
  };
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await spawnPg();
  const alive = () => Boolean(child && child.exitCode === null && child.signalCode === null);
  register({
    // and whatever outlived a postmaster the test killed itself
    stop: async () => {
      await signal('SIGKILL');
      killPostgres(undefined, data);
    },
    killSync: () => killPostgres(alive() ? child?.pid : undefined, data),
  });
  let n = 0;
  return {
    port,
    url,
    dataDir: data,
    async createDatabase(name) {
      const db = name ?? `t_${process.pid}_${++n}_${Math.random().toString(36).slice(2, 8)}`;
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`CREATE DATABASE "${db}"`);
      await c.end();
      return `postgres://postgres@127.0.0.1:${port}/${db}`;
    },
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGINT'),
    restart: async () => {
      await signal('SIGINT');
      await spawnPg();
    },
  };
}
