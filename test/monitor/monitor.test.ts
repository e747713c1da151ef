import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { Heartbeat } from '../../src/bus/presence.js';
import { frameToStreamFields } from '../../src/can/frame.js';
import { encodePt100, encodeScd30, encodeStatus } from '../../src/can/protocol.js';
import { startRedis, type TestRedis } from '../support/redis.js';

const run = promisify(execFile);
let redis: TestRedis;
let conn: Connection;
let hb: Heartbeat;

const canopy = (args: string[]) =>
  run(process.execPath, ['dist/src/cli/main.js', ...args], { env: { ...process.env, REDIS_URL: redis.url } });

beforeAll(async () => {
  redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
  const t = Date.parse('2026-05-01T10:00:00.000Z');
  const frames = [
    encodePt100(1, 24.5, 20.1, 0, t),
    encodeScd30(1, 812, 24.1, 61.5, t + 1),
    encodePt100(2, 23.0, 19.0, 0, t + 2),
    encodeStatus(3, 3600, 0, t + 3),
  ];
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
});
afterAll(async () => {
  await hb.close();
  await conn.close();
});

describe('canopy monitor', () => {
  it('redis --once prints stream length, group lag, services, live values and memory, without ANSI when not a TTY', async () => {
    const { stdout } = await canopy(['monitor', 'redis', '--once']);
    expect(stdout).not.toContain('\x1b[');
    expect(stdout).toMatch(/Canopy - Redis monitor .* memory \S+/);
    expect(stdout).toMatch(/can:raw\s+5\s+can-worker\s+1\s+2\s+3/);
    expect(stdout).toMatch(/actuators:commands\s+missing/);
    expect(stdout).toMatch(/pi:worker:7\s+worker\s+up/);
    expect(stdout).toMatch(/dry_bulb_f\s+24\.55\s+\d/);
    expect(stdout).toMatch(/co2_f\s+812/);
  });

  it('can --once prints the frames decoded, by type, with counts per type', async () => {
    const { stdout } = await canopy(['monitor', 'can', '--once']);
    expect(stdout).not.toContain('\x1b[');
    expect(stdout).toMatch(/stream can:raw\s+length 5/);
    expect(stdout).toMatch(/COUNTS \(last 1000, 5 frames\)\s+PT100 2\s+\w+ 1/);
    expect(stdout).toMatch(/0x101\s+1\s+PT100\s+92 09 DA 07 00\s+.*24\.5/);
    expect(stdout).toMatch(/0x30F\s+3\s+STATUS/);
    expect(stdout).toMatch(/zz\s+-\s+INVALID\s+AA\s+id "zz"|INVALID/);
  });

  it('the live screen refreshes and exits cleanly on Ctrl+C', async () => {
    const child = spawn(process.execPath, ['dist/src/cli/main.js', 'monitor', 'redis', '--interval', '200'], {
      env: { ...process.env, REDIS_URL: redis.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    while ((out.match(/Canopy - Redis monitor/g) ?? []).length < 2) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
  });
});
