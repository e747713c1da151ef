import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { register } from '../../support/cleanup.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { startStub, type StubServer } from './stub-http.js';

const CLI = path.resolve('dist/src/cli/main.js');
const SECRETS = {
  telegram: '7001:tg-token-from-file',
  ntfy: 'tk_ntfy_from_file',
  sms: 'Basic c21zOmZyb20tZmlsZQ==',
};

let redis: TestRedis;
let conn: Connection;
let stub: StubServer;

beforeAll(async () => {
  redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
  stub = await startStub();
});
afterAll(async () => {
  await conn.close();
});

describe('canopy alerts with push channels', () => {
  it('reads the channel secrets from *_FILE, pushes to ntfy, Telegram and the SMS gateway, and never logs them', async () => {
    const dir = tempDir();
    const rules = path.join(dir, 'alerts.yaml');
    fs.writeFileSync(
      rules,
      'stale_after_s: 0\nreminder_interval_s: 0\nwatch_services: [nothing]\n' +
        'rules:\n  - { id: hot, sensor: dry_bulb_f, above: 30, severity: critical }\n',
    );
    const secretFile = (name: string, value: string) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, `${value}\n`, { mode: 0o600 });
      return f;
    };
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ALERTS_')) env[k] = v;
    Object.assign(env, {
      REDIS_URL: redis.url,
      CANOPY_DATA_DIR: dir,
      LOG_LEVEL: 'debug',
      ALERTS_TELEGRAM_TOKEN_FILE: secretFile('tg', SECRETS.telegram),
      ALERTS_TELEGRAM_CHAT_ID: '42',
      ALERTS_TELEGRAM_API: stub.base,
      ALERTS_NTFY_URL: `${stub.base}/grow-topic`,
      ALERTS_NTFY_TOKEN_FILE: secretFile('ntfy', SECRETS.ntfy),
      ALERTS_SMS_URL: `${stub.base}/sms/send`,
      ALERTS_SMS_TO: '+4915100000',
      ALERTS_SMS_AUTH_FILE: secretFile('sms', SECRETS.sms),
    });
    const child = spawn(process.execPath, [CLI, 'alerts', '--rules', rules, '--no-store'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const unregister = register({
      stop: async () => void child.kill('SIGKILL'),
      killSync: () => void child.kill('SIGKILL'),
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    // readings until the three channels answered (the service subscribes some time after it starts)
    const deadline = Date.now() + 60_000;
    let i = 0;
    while (stub.requests.length < 3) {
      if (Date.now() > deadline) throw new Error(`no pushes; output:\n${out}`);
      const msg = {
        location: 'Flower Room',
        cluster: 'front',
        sensor_data: { dry_bulb_f: 31 + i++ / 100 },
        timestamp: new Date().toISOString(),
      };
      await conn.client.publish('sensor:update', JSON.stringify(msg));
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    unregister();

    // one firing alert: one request per channel, no more
    expect(stub.requests).toHaveLength(3);
    const byPath = Object.fromEntries(stub.requests.map((r) => [r.url.split('/')[1], r]));
    expect(byPath[`bot${SECRETS.telegram}`]?.url).toBe(`/bot${SECRETS.telegram}/sendMessage`);
    expect(JSON.parse(byPath[`bot${SECRETS.telegram}`]!.body)).toMatchObject({ chat_id: '42' });
    expect(byPath['grow-topic']?.headers.authorization).toBe(`Bearer ${SECRETS.ntfy}`);
    expect(byPath['grow-topic']?.headers.priority).toBe('5');
    expect(byPath.sms?.headers.authorization).toBe(SECRETS.sms);
    expect(new URLSearchParams(byPath.sms!.body).get('to')).toBe('+4915100000');

    expect(out).toContain('notification sent');
    for (const s of [...Object.values(SECRETS), 'grow-topic']) expect(out.includes(s)).toBe(false);
  });

  /** Runs the CLI to its end without blocking this process (the stub answers from here). */
  const runCli = (args: string[], env: NodeJS.ProcessEnv) =>
    new Promise<{ stdout: string; stderr: string; status: number | null }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const unregister = register({
        stop: async () => void child.kill('SIGKILL'),
        killSync: () => void child.kill('SIGKILL'),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (status) => {
        unregister();
        resolve({ stdout, stderr, status });
      });
    });

  it('--test sends one notification per channel and says which worked, exit 1 when one did not', async () => {
    const dir = tempDir();
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ALERTS_')) env[k] = v;
    const before = stub.requests.length;
    const tg = await startStub();
    tg.answer(401);
    const run = await runCli(['alerts', '--test'], {
      ...env,
      CANOPY_DATA_DIR: dir,
      ALERTS_NTFY_URL: `${stub.base}/test-topic`,
      ALERTS_TELEGRAM_TOKEN: SECRETS.telegram,
      ALERTS_TELEGRAM_CHAT_ID: '42',
      ALERTS_TELEGRAM_API: tg.base,
    });
    expect(run.stdout.trim().split('\n')).toEqual(['ntfy: sent', 'telegram: FAILED (telegram answered HTTP 401)']);
    expect(run.status).toBe(1);
    // once each, no retry
    expect(stub.requests.length - before).toBe(1);
    expect(tg.requests).toHaveLength(1);
    expect(stub.requests.at(-1)?.body).toContain('test notification from canopy alerts');
    expect(run.stdout + run.stderr).not.toContain(SECRETS.telegram);

    const none = await runCli(['alerts', '--test'], { ...env, CANOPY_DATA_DIR: dir });
    expect(none.stdout).toContain('no notification channel configured');
    expect(none.status).toBe(1);
  });
});
