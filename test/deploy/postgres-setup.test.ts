import { spawnSync, execFileSync } from '../support/run-sync.js';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { freePort } from '../../src/ops/ports.js';
import { pgBinDir, startPostgres } from '../support/postgres.js';
import { tempDir } from '../support/tmp.js';
import { install } from './install-run.js';

const STORE_USERS = ['scanner', 'worker', 'api', 'automation', 'alerts', 'backup', 'cli'];
const OTHERS = ['recorder', 'analytics', 'exporter', 'gateway'];
const PG_VERSION = path.basename(path.dirname(pgBinDir()));

/** The SQLSTATE a statement fails with ('' when it succeeds). */
async function sqlState(c: pg.Client, sql: string): Promise<string> {
  try {
    await c.query(sql);
    return '';
  } catch (err) {
    return (err as { code?: string }).code ?? 'no code';
  }
}

async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

function passwords(root: string): Record<string, string> {
  const text = fs.readFileSync(path.join(root, 'etc/canopy/postgres.credentials'), 'utf8');
  return Object.fromEntries(text.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** key = value lines of a postgresql.conf fragment. */
function confValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z_.]+)\s*=\s*(.+?)\s*$/.exec(line);
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

describe('install.sh --postgres on a real PostgreSQL cluster', () => {
  it('creates cea_sensors and the roles; the services work as canopy, and can do nothing more', async () => {
    const server = await startPostgres({ passwordAuth: true });
    const root = tempDir('canopy-root-');
    const args = ['--postgres', '--pg-admin', server.url, '--pg-port', String(server.port), '--memory-mb', '2048'];
    const out = await install(root, args);
    expect(out).toMatch(/cea_sensors, roles canopy and grafana_reader .* in place/);

    // the passwords: root only, and each store user's DATABASE_URL a credential of its own
    const pw = passwords(root);
    expect(pw.canopy).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(pw.grafana_reader).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(fs.statSync(path.join(root, 'etc/canopy/postgres.credentials')).mode & 0o777).toBe(0o600);
    const url = `postgres://canopy:${pw.canopy}@127.0.0.1:${server.port}/cea_sensors`;
    for (const s of STORE_USERS) {
      const f = path.join(root, `etc/canopy/credentials/${s}/DATABASE_URL`);
      expect(fs.readFileSync(f, 'utf8'), s).toBe(`${url}\n`);
      const st = fs.statSync(f);
      expect([st.uid, st.mode & 0o777], s).toEqual([0, 0o600]);
    }
    for (const s of OTHERS) expect(fs.existsSync(path.join(root, `etc/canopy/credentials/${s}/DATABASE_URL`)), s).toBe(false);

    // the server holds SCRAM verifiers, never the clear passwords; the roles have no special attributes
    const su = await connect(server.url);
    const roles = await su.query<{ rolname: string; rolpassword: string; special: boolean }>(
      `SELECT rolname, rolpassword, rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls AS special
       FROM pg_authid WHERE rolname IN ('canopy', 'grafana_reader') ORDER BY 1`,
    );
    expect(roles.rows.map((r) => r.rolname)).toEqual(['canopy', 'grafana_reader']);
    for (const r of roles.rows) {
      expect(r.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
      expect(r.rolpassword).not.toContain(pw[r.rolname]);
      expect(r.special, r.rolname).toBe(false);
    }
    // password authentication is real here: a wrong password is refused
    await expect(connect(url.replace(pw.canopy as string, 'wrong-password'))).rejects.toMatchObject({ code: '28P01' });

    // what the worker, api, automation and alerts do, through the store, as canopy
    const store = await openStore(url, { sweepIntervalMs: 0 });
    expect(store.kind).toBe('postgres');
    const now = Date.now();
    const res = await store.writeBatch({
      messages: [
        { streamId: '1-0', timestamp: now, canId: 0x101, nodeId: 1, messageType: 'PT100', dlc: 4, rawData: 'AA FF 04 10', decodedData: { temp_dry_c: 23.5 } },
      ],
      readings: [{ streamId: '1-0', time: now, sensor: 'dry_bulb_f', value: 23.5, location: 'Flower Room', cluster: 'front' }],
    });
    expect(res.stored).toBe(1);
    expect((await store.latestReadings(['dry_bulb_f']))[0]?.value).toBe(23.5);
    await store.setSetpoint({ name: 'rh_target', value: 60, by: 'test' });
    const alert = await store.openAlert({ rule: 'rh-too-high', sensor: 'rh_f', severity: 'warning', message: 'x', startedAt: now });
    expect((await store.resolveAlert(alert.id, now + 1))?.state).toBe('resolved');
    await store.sweep(now + 365 * 86_400_000); // retention: DELETE
    await store.close();

    // ... and nothing more
    const canopy = await connect(url);
    await su.end();
    const suDb = await connect(`postgres://postgres@127.0.0.1:${server.port}/cea_sensors`);
    await suDb.query('CREATE SCHEMA other');
    expect(await sqlState(canopy, 'CREATE SCHEMA mine')).toBe('42501');
    expect(await sqlState(canopy, 'CREATE TABLE other.t (x int)')).toBe('42501');
    expect(await sqlState(canopy, 'CREATE TEMP TABLE t (x int)')).toBe('42501');
    expect(await sqlState(canopy, 'CREATE DATABASE mine')).toBe('42501');
    expect(await sqlState(canopy, 'CREATE ROLE mine')).toBe('42501');
    expect(await sqlState(canopy, 'CREATE TABLE public.own (x int)')).toBe('');

    // Grafana's reader: SELECT on what the store created after the grants, nothing else
    const readerUrl = `postgres://grafana_reader:${pw.grafana_reader}@127.0.0.1:${server.port}/cea_sensors`;
    const reader = await connect(readerUrl);
    expect((await reader.query('SELECT value FROM sensor_readings')).rows).toEqual([{ value: 23.5 }]);
    expect((await reader.query('SELECT count(*)::int AS n FROM own')).rows).toEqual([{ n: 0 }]);
    expect(await sqlState(reader, "INSERT INTO setpoints VALUES ('x', 1, now(), 'r')")).toBe('25006'); // read-only
    await reader.query('SET default_transaction_read_only = off');
    expect(await sqlState(reader, "INSERT INTO setpoints VALUES ('x', 1, now(), 'r')")).toBe('42501');
    expect(await sqlState(reader, 'DELETE FROM sensor_readings')).toBe('42501');
    expect(await sqlState(reader, 'CREATE TABLE public.r (x int)')).toBe('42501');

    // any other role of the cluster may not even connect
    await suDb.query("CREATE ROLE intruder LOGIN PASSWORD 'intruder-password-1'");
    await expect(
      connect(`postgres://intruder:intruder-password-1@127.0.0.1:${server.port}/cea_sensors`),
    ).rejects.toMatchObject({ code: '42501' });

    // someone widened the roles; a second run narrows them again and changes no file
    await suDb.query('ALTER ROLE canopy CREATEDB');
    await suDb.query('GRANT CREATE, TEMPORARY ON DATABASE cea_sensors TO canopy');
    await suDb.query('GRANT INSERT ON ALL TABLES IN SCHEMA public TO grafana_reader');
    const again = await install(root, args);
    expect(again).toMatch(/nothing to change/);
    expect(again).toMatch(/in place \(setup\.sql\)/);
    expect(passwords(root)).toEqual(pw);
    const canopy2 = await connect(url); // the same password still logs in
    expect(await sqlState(canopy2, 'CREATE SCHEMA mine')).toBe('42501');
    expect(await sqlState(canopy2, 'CREATE TEMP TABLE t (x int)')).toBe('42501');
    expect(await sqlState(canopy2, 'CREATE DATABASE mine')).toBe('42501');
    const reader2 = await connect(readerUrl);
    await reader2.query('SET default_transaction_read_only = off');
    expect(await sqlState(reader2, "INSERT INTO setpoints VALUES ('y', 1, now(), 'r')")).toBe('42501');
    for (const c of [canopy, canopy2, reader, reader2, suDb]) await c.end();
  }, 300_000);
});

describe('install.sh --postgres: tuning', () => {
  it('writes memory and WAL settings sized for the machine that the installed PostgreSQL accepts', async () => {
    const root = tempDir('canopy-root-');
    const conf = path.join(root, `etc/postgresql/${PG_VERSION}/main/conf.d/50-canopy.conf`);
    fs.mkdirSync(path.dirname(conf), { recursive: true });
    // a cluster of the installed PostgreSQL that reads conf.d, to check the file with `postgres -C`
    const pgRoot = tempDir('canopy-pgconf-');
    const ids: { uid?: number; gid?: number } = {};
    if (process.getuid?.() === 0) {
      ids.uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
      ids.gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
      fs.chownSync(pgRoot, ids.uid, ids.gid);
    }
    const data = path.join(pgRoot, 'data');
    const init = spawnSync(path.join(pgBinDir(), 'initdb'), ['-D', data, '-U', 'postgres', '--no-sync'], { ...ids, encoding: 'utf8' });
    expect(init.status, init.stderr).toBe(0);
    fs.appendFileSync(path.join(data, 'postgresql.conf'), "include_dir = 'conf.d'\n");
    fs.mkdirSync(path.join(data, 'conf.d'));
    const show = (param: string) =>
      spawnSync(path.join(pgBinDir(), 'postgres'), ['-D', data, '-C', param], { ...ids, encoding: 'utf8' });

    for (const [mem, sharedMb, workMb] of [
      [1024, 256, 4],
      [4096, 1024, 16],
      [16384, 2048, 64],
    ] as const) {
      const out = await install(root, ['--postgres', '--memory-mb', String(mem)]);
      expect(out).toMatch(/setup\.sql not run/);
      const text = fs.readFileSync(conf, 'utf8');
      const v = confValues(text);
      expect(v.shared_buffers, `${mem} MB`).toBe(`${sharedMb}MB`);
      expect(v.effective_cache_size).toBe(`${mem / 2}MB`);
      expect(v.work_mem).toBe(`${workMb}MB`);
      expect(v.wal_compression).toBe('on');
      expect(v.synchronous_commit).toBe('on');
      expect(v.shared_preload_libraries).toBeUndefined(); // no TimescaleDB installed
      fs.copyFileSync(conf, path.join(data, 'conf.d/50-canopy.conf'));
      const r = show('shared_buffers');
      expect(r.status, r.stderr).toBe(0);
      expect(Number(r.stdout.trim()) * 8, `${mem} MB`).toBe(sharedMb * 1024); // 8 kB pages
      const w = show('max_wal_size');
      expect([w.status, w.stdout.trim()]).toEqual([0, '1024']);
    }
    // and the check does catch a bad setting
    fs.appendFileSync(path.join(data, 'conf.d/50-canopy.conf'), 'shared_bufers = 1GB\n');
    expect(show('shared_buffers').status).not.toBe(0);

    // with TimescaleDB installed for that version: preloaded, with its background workers
    const lib = path.join(root, `usr/lib/postgresql/${PG_VERSION}/lib`);
    fs.mkdirSync(lib, { recursive: true });
    fs.writeFileSync(path.join(lib, 'timescaledb.so'), '');
    const out = await install(root, ['--postgres', '--memory-mb', '16384']);
    expect(out).toContain(`installed /etc/postgresql/${PG_VERSION}/main/conf.d/50-canopy.conf`);
    const v = confValues(fs.readFileSync(conf, 'utf8'));
    expect(v.shared_preload_libraries).toBe("'timescaledb'");
    expect(Number(v.max_worker_processes)).toBeGreaterThanOrEqual(Number(v['timescaledb.max_background_workers']) + 3);
  }, 300_000);
});

describe('install.sh --timescaledb and --grafana: the vendor repositories', () => {
  it('falls back with a clear message when a repository is unreachable, and installs nothing under --root', async () => {
    const closed = `http://127.0.0.1:${await freePort()}/gpgkey`;
    const server = http.createServer((_req, res) => res.end('-----BEGIN PGP PUBLIC KEY BLOCK-----\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const open = `http://127.0.0.1:${(server.address() as AddressInfo).port}/gpgkey`;
    try {
      const root = tempDir('canopy-root-');
      const down = await install(root, ['--timescaledb', '--grafana'], {
        CANOPY_TIMESCALE_KEY_URL: closed,
        CANOPY_GRAFANA_KEY_URL: closed,
      });
      expect(down).toContain(`TimescaleDB: the vendor's apt repository (${closed}) is not reachable`);
      expect(down).toMatch(/continuing with plain PostgreSQL: the store keeps its own rollup tables/);
      expect(down).toContain(`Grafana: Grafana's apt repository (${closed}) is not reachable`);
      // --timescaledb and --grafana imply --postgres: the roles' passwords and URLs are there
      expect(passwords(root).canopy).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(fs.existsSync(path.join(root, 'etc/apt/sources.list.d'))).toBe(false);
      expect(fs.existsSync(path.join(root, 'etc/grafana'))).toBe(false);

      const up = await install(root, ['--timescaledb', '--grafana'], {
        CANOPY_TIMESCALE_KEY_URL: open,
        CANOPY_GRAFANA_KEY_URL: open,
      });
      expect(up).toMatch(/TimescaleDB: the vendor's apt repository is reachable, but root is .*: packages are installed on the target only/);
      expect(up).toMatch(/Grafana: the apt repository is reachable, but root is/);
      expect(up).toMatch(/nothing to change/);
    } finally {
      server.close();
    }
  }, 300_000);
});
