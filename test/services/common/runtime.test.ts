import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { ConfigError } from '../../../src/bus/errors.js';
import { sendAdminMessage } from '../../../src/bus/mailbox.js';
import { startServiceRuntime, type ServiceRuntime } from '../../../src/services/common/runtime.js';
import { createLogger } from '../../../src/util/log.js';
import { startRedis, type TestRedis } from '../../support/redis.js';

const run = promisify(execFile);
let redis: TestRedis;
let rt: ServiceRuntime;
let reloads = 0;

const canopy = (args: string[]) =>
  run(process.execPath, ['dist/src/cli/main.js', ...args], { env: { ...process.env, REDIS_URL: redis.url } }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => e,
  );

beforeAll(async () => {
  redis = await startRedis();
  rt = await startServiceRuntime({
    service: 'demo',
    instance: 'testhost:demo:1',
    connection: { url: redis.url },
    log: createLogger('demo', 'silent'),
    counters: () => ({ handled: 7 }),
    onReloadConfig: () => {
      reloads++;
      return { rules: 3 };
    },
  });
});
afterAll(async () => {
  await rt.close();
});

describe('service runtime + canopy admin', () => {
  it('heartbeat carries the counters; canopy admin list shows the instance', async () => {
    const conn = await Connection.connect({ url: redis.url });
    const hb = JSON.parse(String(await conn.client.get('heartbeat:testhost:demo:1'))) as Record<string, unknown>;
    expect(hb).toMatchObject({ service: 'demo', instance: 'testhost:demo:1', handled: 7, paused: false });
    await conn.close();
    const out = await canopy(['admin', 'list']);
    expect(out.stdout).toMatch(/testhost:demo:1\s+demo\s+/);
  });

  it('canopy admin <instance> <command> prints the reply; every built-in command works', async () => {
    const ping = await canopy(['admin', 'testhost:demo:1', 'ping']);
    expect(ping.stdout).toMatch(/^testhost:demo:1: ok \{"pong":true,"instance":"testhost:demo:1"/);
    const lvl = await canopy(['admin', 'demo', 'set-log-level', 'level=debug']);
    expect(lvl.stdout).toContain('ok {"level":"debug","previous":"silent"}');
    expect(rt.log.level).toBe('debug');
    await canopy(['admin', 'demo', 'pause']);
    expect(rt.paused).toBe(true);
    const status = await canopy(['admin', 'demo', 'status']);
    expect(status.stdout).toContain('"paused":true');
    expect(status.stdout).toContain('"handled":7');
    await canopy(['admin', 'demo', 'resume']);
    expect(rt.paused).toBe(false);
    const reload = await canopy(['admin', 'demo', 'reload-config']);
    expect(reload.stdout).toContain('ok {"rules":3}');
    expect(reloads).toBe(1);
    const bad = await canopy(['admin', 'demo', 'set-log-level', 'level=loud']);
    expect(bad.stdout).toContain('error "level must be one of');
    expect(bad.code).toBe(1);
    const nobody = await canopy(['admin', 'ghost', 'ping']);
    expect(nobody.stderr).toContain('no live instance or service named "ghost"');
  });
});

describe('deferHeartbeat', () => {
  it('the mailbox answers at once; the heartbeat appears only when the service says it is ready', async () => {
    const late = await startServiceRuntime({
      service: 'late',
      instance: 'testhost:late:1',
      connection: { url: redis.url },
      log: createLogger('late', 'silent'),
      deferHeartbeat: true,
    });
    const conn = await Connection.connect({ url: redis.url });
    try {
      const { reply } = await sendAdminMessage(conn, 'testhost:late:1', 'ping', {}, { replyTimeoutMs: 10_000 });
      expect(reply).toMatchObject({ ok: true, result: { pong: true } });
      expect(await conn.client.exists('heartbeat:testhost:late:1')).toBe(0);
      expect(() => late.presence).toThrow(ConfigError);
      await late.ready();
      await late.ready(); // idempotent
      expect(await conn.client.exists('heartbeat:testhost:late:1')).toBe(1);
      expect(late.presence.stats.beats).toBe(1);
      await late.close();
      expect(await conn.client.exists('heartbeat:testhost:late:1')).toBe(0);
    } finally {
      await late.close();
      await conn.close();
    }
  });
});
