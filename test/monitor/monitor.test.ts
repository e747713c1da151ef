import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { Heartbeat } from '../../src/bus/presence.js';
import { frameToStreamFields, type CanFrame } from '../../src/can/frame.js';
import { encodePt100, encodeScd30, encodeStatus } from '../../src/can/protocol.js';
import { FrameProcessor } from '../../src/cea/processor.js';
import { openStore, type Store } from '../../src/store/index.js';
import { startApi } from '../services/api/helpers.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';
import { registerChild } from '../support/cleanup.js';

const run = promisify(execFile);
let redis: TestRedis;
let conn: Connection;
let hb: Heartbeat;
let store: Store;
let dbUrl: string;
let apiUrl: string;
const processor = new FrameProcessor();
let seq = 0;

const env = () => ({ ...process.env, REDIS_URL: redis.url, DATABASE_URL: dbUrl, TZ: 'UTC', NO_COLOR: '' });
const canopy = (args: string[], extra: Record<string, string> = {}) =>
  run(process.execPath, ['dist/src/cli/main.js', ...args], { env: { ...env(), ...extra } });

/** Stores frames as the worker does: processed, then one batch (real SQLite). */
async function storeFrames(frames: CanFrame[]): Promise<void> {
  const r = processor.process(frames.map((frame) => ({ streamId: `${Date.now()}-${seq++}`, frame })));
  await store.writeBatch({ messages: r.messages, readings: r.readings });
}

async function waitFor(pred: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const t0 = Date.parse('2026-05-01T10:00:00.000Z');

beforeAll(async () => {
  redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
  const dir = tempDir('canopy-monitor-');
  dbUrl = `sqlite:${path.join(dir, 'canopy.db')}`;
  store = await openStore(dbUrl, { sweepIntervalMs: 0 });
  const frames = [
    encodePt100(1, 23.5, 18.2, 0, t0),
    encodeScd30(1, 812, 23.1, 58, t0 + 1),
    encodePt100(2, 23.0, 19.0, 0, t0 + 2),
    encodeStatus(3, 3600, 0, t0 + 3),
  ];
  await storeFrames(frames);
  for (const f of frames) await conn.client.xAdd('can:raw', '*', { ...frameToStreamFields(f) });
  await conn.client.xAdd('can:raw', '*', { id: 'zz', data: 'AA', ts: '1', dlc: '1' });
  await conn.client.xGroupCreate('can:raw', 'can-worker', '0');
  await conn.client.xReadGroup('can-worker', 'w1', { key: 'can:raw', id: '>' }, { COUNT: 2 });
  const now = Date.now();
  await conn.client.set('sensor:dry_bulb_f', '24.55', { EX: 60 });
  await conn.client.set('sensor:dry_bulb_f:ts', String(now), { EX: 60 });
  await conn.client.set('sensor:co2_f', '812', { EX: 60 });
  await conn.client.set('sensor:co2_f:ts', String(now), { EX: 60 });
  hb = await Heartbeat.start(conn, { service: 'worker', instance: 'pi:worker:7' });
  const { api } = await startApi({ databaseUrl: dbUrl }, redis);
  apiUrl = api.url;
});
afterAll(async () => {
  await hb?.close();
  await conn?.close();
  await store?.close();
});

describe('canopy monitor can', () => {
  it('--once prints what the database received, one scanner-style line per frame, with rooms and counts', async () => {
    const { stdout } = await canopy(['monitor', 'can', '--once']);
    expect(stdout).not.toContain('\x1b[');
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Canopy CAN monitor {2}database sqlite/);
    expect(lines[1]).toMatch(/^Counts \(4 read since \d\d:\d\d:\d\d\): PT100 2 {2}SCD30 1 {2}STATUS 1$/);
    expect(lines.slice(3)).toEqual([
      '[2026-05-01 10:00:00.000] [0x101] [Node 1 Flower Room/front] PT100: Dry=23.5°C, Wet=18.2°C',
      '[2026-05-01 10:00:00.001] [0x103] [Node 1 Flower Room/front] SCD30: CO2=812ppm, Temp=23.1°C, RH=58%',
      '[2026-05-01 10:00:00.002] [0x201] [Node 2 Flower Room/back] PT100: Dry=23°C, Wet=19°C',
      '[2026-05-01 10:00:00.003] [0x30F] [Node 3 Veg Room/main] STATUS: Uptime=3600s, Errors=0',
    ]);
  });

  it('--from-stream reads can:raw instead, and shows an unreadable entry rather than skipping it', async () => {
    const { stdout } = await canopy(['monitor', 'can', '--once', '--from-stream']);
    expect(stdout).toMatch(/^Canopy CAN monitor {2}stream can:raw/);
    expect(stdout).toMatch(/Counts \(5 read since [\d:]+\): PT100 2 {2}INVALID 1 {2}SCD30 1 {2}STATUS 1/);
    expect(stdout).toContain('[2026-05-01 10:00:00.001] [0x103] [Node 1 Flower Room/front] SCD30: CO2=812ppm');
    expect(stdout).toMatch(/\] INVALID: .+/);
  });

  it('follows the database: frames stored after it started are printed as they arrive; Ctrl+C exits 0', async () => {
    const child = spawn(process.execPath, ['dist/src/cli/main.js', 'monitor', 'can', '--interval', '200'], {
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    registerChild(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await waitFor(() => out.includes('STATUS: Uptime=3600s'), 'the stored frames');
      await storeFrames([encodeScd30(2, 1234, 25.25, 61.5, t0 + 60_000)]);
      await waitFor(() => out.includes('CO2=1234ppm'), 'the new frame');
      expect(out).toContain(
        '[2026-05-01 10:01:00.000] [0x203] [Node 2 Flower Room/back] SCD30: CO2=1234ppm, Temp=25.25°C, RH=61.5%',
      );
      // each frame once
      expect(out.match(/CO2=1234ppm/g)).toHaveLength(1);
      expect(out.match(/Uptime=3600s/g)).toHaveLength(1);
    } finally {
      child.kill('SIGINT');
    }
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(err).toBe('');
    expect(code).toBe(0);
  });

  it('a database without the schema is a clear error and exit 1, not a crash', async () => {
    const empty = path.join(tempDir('canopy-monitor-'), 'empty.db');
    fs.writeFileSync(empty, '');
    await expect(canopy(['monitor', 'can', '--once', '--database', `sqlite:${empty}`])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^canopy monitor: .*can_messages/m),
    });
  });
});

describe('canopy monitor backend', () => {
  it('--once: stream length and lag, newest entries, sensors, heartbeats, API health and memory within 80×24', async () => {
    const { stdout } = await canopy(['monitor', 'backend', '--once', '--api', apiUrl, '--systemd', 'off']);
    expect(stdout).not.toContain('\x1b[');
    const lines = stdout.trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^Canopy backend monitor/);
    expect(lines[1]).toMatch(/^Redis \d+\.\d+\.\d+ {2}memory \S+ \(peak \S+/);
    expect(lines[2]).toMatch(/^API 200 ok \(redis up, store up\)/);
    expect(lines[3]).toBe('can:raw length 5  can-worker lag 3 pending 2 consumers 1');
    expect(stdout).toMatch(/Newest entries of can:raw\n {2}\[.*INVALID: /);
    expect(stdout).toMatch(/\[10:00:00\.003\] \[0x30F\] \[Node 3\] STATUS: Uptime=3600s/);
    expect(stdout).toMatch(/worker\s+up \d+\.\ds\s+pi:worker:7/);
    expect(stdout).toMatch(/co2_f 812 \S+\s+dry_bulb_f 24\.55/);
  });

  it('`monitor redis` is the same command; an API that does not answer is shown, not fatal', async () => {
    const { stdout } = await canopy(['monitor', 'redis', '--once', '--api', 'http://127.0.0.1:9', '--systemd', 'off']);
    expect(stdout).toMatch(/^Canopy backend monitor/);
    expect(stdout.split('\n')[2]).toMatch(/^API --- \S+/);
    expect(stdout).toContain('can:raw length 5');
  });

  it('shows systemctl is-active of the units where systemd runs', async () => {
    // a stand-in systemctl (this machine does not boot with systemd): prints one state per unit like the real one
    const bin = tempDir('canopy-systemctl-');
    const fake = path.join(bin, 'systemctl');
    fs.writeFileSync(
      fake,
      '#!/bin/sh\nshift\nfor u in "$@"; do case "$u" in *worker*) echo active;; *) echo failed;; esac; done\nexit 3\n',
      {
        mode: 0o755,
      },
    );
    const { stdout } = await canopy(
      [
        'monitor',
        'backend',
        '--once',
        '--api',
        apiUrl,
        '--systemd',
        'on',
        '--units',
        'canopy-worker.service',
        'canopy-alerts.service',
      ],
      { PATH: `${bin}:${process.env.PATH}` },
    );
    expect(stdout).toMatch(/Services \(heartbeat, systemd\)/);
    expect(stdout).toMatch(/alerts\s+failed\s+no heartbeat/);
    expect(stdout).toMatch(/worker\s+active\s+up \d+\.\ds\s+pi:worker:7/);
  });

  it('the live screen refreshes and exits cleanly on Ctrl+C', async () => {
    const child = spawn(
      process.execPath,
      ['dist/src/cli/main.js', 'monitor', 'backend', '--interval', '200', '--api', apiUrl, '--systemd', 'off'],
      { env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    registerChild(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => (out.match(/Canopy backend monitor/g) ?? []).length >= 2, 'two screens');
    } finally {
      child.kill('SIGINT');
    }
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
  });
});
