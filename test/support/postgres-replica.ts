/**
 * A PostgreSQL primary with a streaming replica, as an operator sets one up:
 * the primary (initdb, `wal_level=replica`, a `replicator` role with the
 * REPLICATION attribute and a password, pg_hba allowing it replication from
 * 127.0.0.1 only), the replica made by `pg_basebackup -R -X stream` on its
 * own free port, and both started as in test/support/postgres.ts (a
 * temporary directory, owned by `nobody` when run as root). Commits are
 * durable when they return on the primary (`synchronous_commit` stays on), so
 * an immediate shutdown loses nothing acknowledged.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { freePort, waitForPort } from '../../src/ops/ports.js';
import { register } from './cleanup.js';
import { killPostgres } from './pg-kill.js';
import { pgBinDir } from './postgres.js';
import { execFileSync } from './run-sync.js';
import { tempDir } from './tmp.js';

/** One server of the pair. */
export interface PgServer {
  port: number;
  /** URL of the `postgres` database as the superuser `postgres` (trust on loopback). */
  url: string;
  dataDir: string;
  /** Its PostgreSQL log. */
  logFile: string;
  /** Stops it: `fast` (SIGINT, like `pg_ctl stop -m fast`) or `immediate` (SIGQUIT: no checkpoint, crash recovery at start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port and data directory; resolves once it answers queries. */
  start(): Promise<void>;
  /**
   * SIGSTOP / SIGCONT of the postmaster: new connections hang (the kernel accepts them, nobody answers)
   * while those already open keep working — a server that is there but does not respond.
   */
  freeze(): void;
  thaw(): void;
  readonly running: boolean;
}

export interface PostgresWithReplica {
  primary: PgServer;
  replica: PgServer;
  /** Password of the `replicator` role (the replica's `primary_conninfo` carries it). */
  replicationPassword: string;
  /** Creates a database on the primary; returns its URL on the primary and on the replica (where it appears once replayed). */
  createDatabase(name?: string): Promise<{ primaryUrl: string; replicaUrl: string }>;
  /** Resolves once the replica has replayed everything the primary wrote so far. */
  waitForReplay(timeoutMs?: number): Promise<void>;
  /** The primary's view of the replica (`pg_stat_replication.state`), or null when it is not connected. */
  replicationState(): Promise<string | null>;
  stop(): Promise<void>;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  try {
    await c.connect();
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Runs a program to its end (asynchronously: the test worker's event loop keeps turning), failing on a non-zero exit. */
function run(cmd: string, args: string[], opts: SpawnOptions, timeoutMs = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${path.basename(cmd)} failed (${code ?? signal}): ${err}`));
    });
  });
}

async function poll(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function server(
  bin: string,
  root: string,
  dataDir: string,
  port: number,
  ids: { uid?: number; gid?: number },
): PgServer {
  const env = { ...process.env, LC_ALL: 'C', HOME: root };
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const logFile = path.join(root, `pg-${port}.log`);
  let child: ChildProcess | undefined;
  const running = () => Boolean(child && child.exitCode === null && child.signalCode === null);
  const signal = async (sig: NodeJS.Signals) => {
    const c = child;
    if (!c || !running()) return;
    const done = new Promise<void>((r) => c.once('exit', () => r()));
    if (sig === 'SIGKILL') killPostgres(c.pid, dataDir);
    else c.kill(sig);
    await done;
  };
  register({
    // and whatever outlived a postmaster the test killed itself
    stop: async () => {
      await signal('SIGKILL');
      killPostgres(undefined, dataDir);
    },
    killSync: () => killPostgres(running() ? child?.pid : undefined, dataDir),
  });
  return {
    port,
    url,
    dataDir,
    logFile,
    get running() {
      return running();
    },
    stop: (mode = 'fast') => signal(mode === 'immediate' ? 'SIGQUIT' : 'SIGINT'),
    freeze: () => void (running() && child!.kill('SIGSTOP')),
    thaw: () => void (running() && child!.kill('SIGCONT')),
    async start() {
      if (running()) return;
      const args = ['-D', dataDir, '-p', String(port), '-k', root, '-c', 'listen_addresses=127.0.0.1'];
      // speed without losing what a commit acknowledged to a process crash: fsync off (the OS keeps
      // written pages when only PostgreSQL dies), synchronous_commit left on (WAL written before COMMIT returns)
      for (const c of ['fsync=off', 'full_page_writes=off', 'max_connections=100', 'shared_buffers=32MB'])
        args.push('-c', c);
      child = spawn(path.join(bin, 'postgres'), args, {
        ...ids,
        env,
        stdio: ['ignore', 'ignore', fs.openSync(logFile, 'a')],
      });
      await waitForPort(port, '127.0.0.1', 60_000);
      // the port opens before recovery ends: wait for a query to succeed
      await poll(`PostgreSQL on port ${port}`, async () => (await query(url, 'SELECT 1')).length === 1, 60_000);
    },
  };
}

/**
 * Starts a primary and a streaming replica made from it by `pg_basebackup -R`;
 * resolves once the primary's `pg_stat_replication` shows the replica streaming.
 */
export async function startPostgresWithReplica(): Promise<PostgresWithReplica> {
  const bin = pgBinDir();
  const root = tempDir('canopy-pgrep-');
  const ids: { uid?: number; gid?: number } = {};
  if (process.getuid?.() === 0) {
    ids.uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    ids.gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
    fs.chownSync(root, ids.uid, ids.gid);
  }
  const env = { ...process.env, LC_ALL: 'C', HOME: root };
  const primaryData = path.join(root, 'primary');
  const replicaData = path.join(root, 'replica');
  await run(
    path.join(bin, 'initdb'),
    ['-D', primaryData, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'],
    { ...ids, env },
  );
  // replication only for the replicator role, with its password, from loopback
  fs.writeFileSync(
    path.join(primaryData, 'pg_hba.conf'),
    [
      'local all postgres trust',
      'host all postgres 127.0.0.1/32 trust',
      'host replication replicator 127.0.0.1/32 scram-sha-256',
      'host all all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'),
  );
  fs.appendFileSync(
    path.join(primaryData, 'postgresql.conf'),
    '\nwal_level = replica\nmax_wal_senders = 5\nwal_keep_size = 256MB\nhot_standby = on\n',
  );
  const primary = server(bin, root, primaryData, await freePort(), ids);
  await primary.start();
  const replicationPassword = `r${Math.random().toString(36).slice(2, 14)}`;
  await query(primary.url, `CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${replicationPassword}'`);
  await run(
    path.join(bin, 'pg_basebackup'),
    ['-D', replicaData, '-R', '-X', 'stream', '-c', 'fast', '--no-sync', '-h', '127.0.0.1', '-p', String(primary.port)],
    { ...ids, env: { ...env, PGUSER: 'replicator', PGPASSWORD: replicationPassword } },
  );
  fs.chmodSync(replicaData, 0o700);
  const replica = server(bin, root, replicaData, await freePort(), ids);
  await replica.start();

  const replicationState = async () =>
    (await query<{ state: string }>(primary.url, 'SELECT state FROM pg_stat_replication LIMIT 1'))[0]?.state ?? null;
  await poll('the replica streaming', async () => (await replicationState()) === 'streaming', 60_000);

  let n = 0;
  return {
    primary,
    replica,
    replicationPassword,
    replicationState,
    async createDatabase(name) {
      const db = name ?? `t_${process.pid}_${++n}_${Math.random().toString(36).slice(2, 8)}`;
      await query(primary.url, `CREATE DATABASE "${db}"`);
      return {
        primaryUrl: `postgres://postgres@127.0.0.1:${primary.port}/${db}`,
        replicaUrl: `postgres://postgres@127.0.0.1:${replica.port}/${db}`,
      };
    },
    async waitForReplay(timeoutMs = 30_000) {
      const [{ lsn }] = (await query<{ lsn: string }>(primary.url, 'SELECT pg_current_wal_lsn()::text AS lsn')) as [
        { lsn: string },
      ];
      await poll(
        'the replica to replay the primary',
        async () =>
          (
            await query<{ done: boolean }>(
              replica.url,
              'SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::pg_lsn) >= 0 AS done',
              [lsn],
            )
          )[0]?.done === true,
        timeoutMs,
      );
    },
    async stop() {
      await replica.stop('immediate');
      await primary.stop('fast');
    },
  };
}
