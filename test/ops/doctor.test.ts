import { spawnSync } from '../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { Heartbeat } from '../../src/bus/presence.js';
import { freePort } from '../../src/ops/ports.js';
import { formatReport, runDoctor, type DoctorReport } from '../../src/ops/doctor/index.js';
import { relayChecks } from '../../src/ops/doctor/relays.js';
import { parseIpCanDetails } from '../../src/ops/doctor/system.js';
import { Mcp23017Simulator } from '../../src/hw/mcp23017-sim.js';
import { writeDevices } from '../services/automation/helpers.js';
import { openStore } from '../../src/store/index.js';
import { startPostgres } from '../support/postgres.js';
import { startRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const CLI = path.resolve('dist/src/cli/main.js');

const IP_OK = `3: can0: <NOARP,UP,LOWER_UP,ECHO> mtu 16 qdisc pfifo_fast state UP mode DEFAULT group default qlen 10
    link/can  promiscuity 0 allmulti 0 minmtu 0 maxmtu 0
    can state ERROR-ACTIVE (berr-counter tx 0 rx 0) restart-ms 100
          bitrate 500000 sample-point 0.875
          tq 125 prop-seg 6 phase-seg1 7 phase-seg2 2 sjw 1 brp 1
          mcp251x: tseg1 3..16 tseg2 2..8 sjw 1..4 brp 1..64 brp_inc 1
          clock 8000000
          re-started bus-errors arbit-lost error-warn error-pass bus-off
          0          0          0          0          0          0
    RX:  bytes packets errors dropped  missed   mcast
        812340  101542      0       0       0       0
    TX:  bytes packets errors dropped carrier collsns
             0       0      0       0       0       0
`;
const IP_BUSOFF = IP_OK.replace('ERROR-ACTIVE (berr-counter tx 0 rx 0)', 'BUS-OFF (berr-counter tx 248 rx 0)').replace(
  '0          0          0          0          0          0',
  '3          917        0          2          2          3',
);

/** A sysfs tree with can0 and stand-ins for ip and timedatectl. */
function fakeHost(opts: { up: boolean; ip: string; synced: boolean; rxErrors?: number }) {
  const root = tempDir('canopy-host-');
  const net = path.join(root, 'sys', 'class', 'net', 'can0');
  fs.mkdirSync(path.join(net, 'statistics'), { recursive: true });
  fs.writeFileSync(path.join(net, 'operstate'), opts.up ? 'up\n' : 'down\n');
  for (const [k, v] of Object.entries({
    rx_packets: 101542,
    tx_packets: 0,
    rx_errors: opts.rxErrors ?? 0,
    tx_errors: 0,
    rx_dropped: 0,
    rx_over_errors: 0,
  }))
    fs.writeFileSync(path.join(net, 'statistics', k), `${v}\n`);
  const bin = path.join(root, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(root, 'ip.txt'), opts.ip);
  fs.writeFileSync(path.join(bin, 'ip'), `#!/bin/sh\ncat '${path.join(root, 'ip.txt')}'\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'timedatectl'), `#!/bin/sh\necho ${opts.synced ? 'yes' : 'no'}\n`, { mode: 0o755 });
  return { sysRoot: path.join(root, 'sys'), ip: path.join(bin, 'ip'), timedatectl: path.join(bin, 'timedatectl'), bin };
}

/** A SQLite store migrated by the store module itself. */
async function sqliteStore(): Promise<{ file: string; dataDir: string }> {
  const dataDir = tempDir('canopy-data-');
  const file = path.join(dataDir, 'canopy.db');
  const store = await openStore(`sqlite:${file}`);
  await store.close();
  return { file, dataDir };
}

const byId = (r: DoctorReport) => Object.fromEntries(r.checks.map((c) => [c.id, c]));

describe('canopy doctor: relays', () => {
  it('probes every MCP23017 address devices.yaml uses and names the chip that does not answer', async () => {
    const devicesFile = writeDevices(); // chips 0x20 (heater, lights, fan) and 0x21 (humidifier, dehumidifier)
    const bus = new Mcp23017Simulator({ addresses: [0x20] }); // the 0x21 board is missing
    const checks = await relayChecks({ i2c: '1', devicesFile, bus });
    const c = Object.fromEntries(checks.map((x) => [x.id, x]));
    expect(c['relays.chip.0x20']).toMatchObject({ status: 'ok', detail: 'answers (heater_f, lights_f, fan_f)' });
    expect(c['relays.chip.0x21']).toMatchObject({
      status: 'fail',
      title: 'MCP23017 0x21',
      detail: 'does not answer (ENXIO): humidifier_f, dehumidifier_f cannot switch',
    });
    expect(c['relays.chip.0x21']?.fix).toMatch(/A2\.\.A0 address jumpers \(i2cdetect -y 1\)/);
    expect(bus.counts.writes).toBe(0); // a probe never writes a register
    // through runDoctor the failure fails the report
    const report = await runDoctor({
      redisUrl: 'redis://127.0.0.1:1',
      databaseUrl: 'sqlite:/nonexistent/x.db',
      dataDir: tempDir(),
      timeoutMs: 500,
      relays: { i2c: '1', devicesFile, bus },
    });
    expect(report.checks.map((x) => x.id)).toContain('relays.chip.0x21');
    expect(formatReport(report)).toMatch(/^✗ MCP23017 0x21 +does not answer/m);
  });

  it('the CLI says when the relays are simulated and which devices file it could not read', () => {
    const dir = tempDir();
    const devicesFile = writeDevices(dir);
    const run = (env: NodeJS.ProcessEnv) =>
      JSON.parse(
        spawnSync(process.execPath, [CLI, 'doctor', '--expect', 'none', '--json'], {
          encoding: 'utf8',
          env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1', CANOPY_DATA_DIR: dir, ...env },
        }).stdout,
      ) as DoctorReport;
    const sim = byId(run({ CANOPY_I2C: `sim:${dir}/mcp.json`, AUTOMATION_DEVICES: devicesFile }));
    expect(sim['relays.bus']).toMatchObject({ status: 'warn', detail: expect.stringMatching(/simulated chip/) });
    expect(sim['relays.chip.0x20']?.status).toBe('ok');
    expect(sim['relays.chip.0x21']?.status).toBe('ok');
    const broken = byId(run({ CANOPY_I2C: '1', AUTOMATION_DEVICES: path.join(dir, 'none.yaml') }));
    expect(broken['relays.devices']).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/cannot read the devices file/),
    });
  });
});

describe('canopy doctor', () => {
  it('a healthy setup: every check passes, exit code 0', async () => {
    const redis = await startRedis({ aof: true, rdb: true, extraConfig: ['user doctor on >s3cret ~* &* +@all'] });
    const url = `redis://doctor:s3cret@127.0.0.1:${redis.port}`;
    const conn = await Connection.connect({ url });
    const beats = await Promise.all(['scanner', 'worker'].map((service) => Heartbeat.start(conn, { service })));
    const host = fakeHost({ up: true, ip: IP_OK, synced: true });
    const store = await sqliteStore();
    const report = await runDoctor({
      redisUrl: url,
      databaseUrl: `sqlite:${store.file}`,
      dataDir: store.dataDir,
      expectServices: ['scanner', 'worker'],
      canRequired: true,
      sysRoot: host.sysRoot,
      ip: host.ip,
      timedatectl: host.timedatectl,
      diskFailPct: 0,
      diskWarnPct: 0,
    });
    const text = formatReport(report);
    expect(
      report.checks.filter((c) => c.status !== 'ok'),
      text,
    ).toEqual([]);
    expect(report.ok).toBe(true);
    const c = byId(report);
    expect(c['redis.persistence']?.detail).toMatch(/AOF on, RDB save "3600 1 300 100 60 10000"/);
    expect(c['redis.acl']?.detail).toBe('authenticated as doctor');
    expect(c['store.migrated']?.detail).toMatch(/schema version 2; /);
    expect(c['can.interface']?.detail).toMatch(/controller ERROR-ACTIVE; 500000 bit\/s; rx 101542 tx 0 packets/);
    expect(c.heartbeats?.detail).toBe('live: scanner, worker');
    expect(text).toMatch(/^✓ Redis reachable/m);
    expect(text.trim().split('\n').at(-1)).toBe('all good');

    // the CLI says the same and exits 0
    const r = spawnSync(process.execPath, [CLI, 'doctor', '--expect', 'scanner,worker', '--json'], {
      encoding: 'utf8',
      env: {
        ...process.env,
        REDIS_URL: url,
        DATABASE_URL: `sqlite:${store.file}`,
        CANOPY_DATA_DIR: store.dataDir,
        PATH: `${host.bin}:${process.env.PATH}`,
        CANOPY_I2C: '',
      },
    });
    const json = JSON.parse(r.stdout) as DoctorReport;
    expect(json.checks.filter((x) => x.status === 'fail')).toEqual([]);
    expect(json.ok).toBe(true);
    // the CLI reads the real /sys, which has no can0 here: only a warning, since no interface was asked for;
    // no CANOPY_I2C: a warning that the automation would drive the simulated chip
    expect(json.checks.filter((x) => x.status === 'warn').map((x) => x.id)).toEqual(['can.interface', 'relays.bus']);
    expect(json.checks.find((x) => x.id === 'relays.bus')?.fix).toMatch(/set CANOPY_I2C=1/);
    expect(r.status).toBe(0);
    await Promise.all(beats.map((b) => b.close()));
    await conn.close();
  });

  it('a broken setup: Redis without persistence, store unreachable, no heartbeats, CAN bus-off, clock unsynchronised', async () => {
    const redis = await startRedis({ aof: false, rdb: false });
    const host = fakeHost({ up: true, ip: IP_BUSOFF, synced: false, rxErrors: 917 });
    const deadPg = `postgres://canopy:pw@127.0.0.1:${await freePort()}/cea_sensors`;
    const dataDir = tempDir('canopy-data-');
    const report = await runDoctor({
      redisUrl: redis.url,
      databaseUrl: deadPg,
      dataDir,
      expectServices: ['worker'],
      sysRoot: host.sysRoot,
      ip: host.ip,
      timedatectl: host.timedatectl,
    });
    expect(report.ok).toBe(false);
    const c = byId(report);
    expect(c['redis.reachable']?.status).toBe('ok');
    expect(c['redis.persistence']).toMatchObject({ status: 'fail', detail: 'AOF is off; RDB snapshots are off' });
    expect(c['redis.persistence']?.fix).toMatch(/appendonly yes/);
    expect(c['redis.acl']?.status).toBe('warn');
    expect(c['store.reachable']?.status).toBe('fail');
    expect(c['store.reachable']?.detail).toMatch(/ECONNREFUSED/);
    expect(c['store.reachable']?.detail).not.toContain(':pw@');
    expect(c['can.interface']).toMatchObject({ status: 'fail' });
    expect(c['can.interface']?.detail).toMatch(/BUS-OFF.*errors rx 917.*bus-off 3, restarts 3/);
    expect(c.clock?.status).toBe('fail');
    expect(c.heartbeats).toMatchObject({ status: 'fail', detail: 'no heartbeat from worker (live: none)' });
    const text = formatReport(report);
    for (const line of text.split('\n').filter((l) => l.startsWith('✗')))
      expect(text.split('\n')[text.split('\n').indexOf(line) + 1]).toMatch(/^\s+fix: /);
    expect(text).toMatch(/\d problems found/);

    // the CLI exits non-zero and prints each problem with its fix
    const r = spawnSync(process.execPath, [CLI, 'doctor', '--expect', 'worker'], {
      encoding: 'utf8',
      env: { ...process.env, REDIS_URL: redis.url, DATABASE_URL: deadPg, CANOPY_DATA_DIR: dataDir },
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^✗ Redis persistence +AOF is off; RDB snapshots are off$/m);
    expect(r.stdout).toMatch(/^✗ Store reachable/m);
  });

  it('an unreachable Redis and a missing SQLite file fail with a fix each', async () => {
    const report = await runDoctor({
      redisUrl: `redis://127.0.0.1:${await freePort()}`,
      databaseUrl: `sqlite:${path.join(tempDir(), 'missing.db')}`,
      dataDir: tempDir(),
      expectServices: ['api'],
      timeoutMs: 1000,
    });
    const c = byId(report);
    expect(c['redis.reachable']?.status).toBe('fail');
    expect(c['store.reachable']).toMatchObject({ status: 'fail' });
    expect(c['store.reachable']?.detail).toMatch(/does not exist/);
    expect(c.heartbeats?.status).toBe('fail');
    expect(report.ok).toBe(false);
  });

  it('reports TimescaleDB as absent on plain PostgreSQL, and the store as not migrated until the store migrates it', async () => {
    const pg = await startPostgres();
    const url = await pg.createDatabase();
    const opts = {
      redisUrl: `redis://127.0.0.1:${await freePort()}`,
      databaseUrl: url,
      dataDir: tempDir(),
      timeoutMs: 1000,
    };
    const c = byId(await runDoctor(opts));
    expect(c['store.reachable']?.status).toBe('ok');
    expect(c['store.migrated']).toMatchObject({
      status: 'fail',
      detail: 'missing table(s) can_messages, sensor_readings',
    });
    expect(c['store.timescaledb']?.detail).toMatch(/not installed: plain PostgreSQL/);
    // once the store has migrated it, the check passes
    const store = await openStore(url, { sweepIntervalMs: 0 });
    await store.close();
    expect(byId(await runDoctor(opts))['store.migrated']).toMatchObject({ status: 'ok' });
  });

  it('parses ip -details -statistics output of a CAN link', () => {
    expect(parseIpCanDetails(IP_BUSOFF)).toEqual({
      state: 'BUS-OFF',
      berrTx: 248,
      berrRx: 0,
      bitrate: 500000,
      counters: { 're-started': 3, 'bus-errors': 917, 'arbit-lost': 0, 'error-warn': 2, 'error-pass': 2, 'bus-off': 3 },
    });
    expect(parseIpCanDetails('1: lo: <LOOPBACK>')).toEqual({});
  });
});
