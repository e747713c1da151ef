import { spawn } from 'node:child_process';
import { spawnSync } from '../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';
import { until } from './helpers.js';
import { registerChild } from '../support/cleanup.js';

const CLI = path.resolve('dist/src/cli/main.js');

function canopy(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('canopy subscribe / publish / acl / gateway', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });

  it('subscribe prints what publish sent, decoded', async () => {
    const sub = spawn(process.execPath, [CLI, 'subscribe', 'jamie', 'predictions', '--count', '2'], {
      env: { ...process.env, REDIS_URL: redis.url, LOG_LEVEL: 'error' },
    });
    registerChild(sub);
    let out = '';
    let err = '';
    sub.stdout.on('data', (d: Buffer) => (out += d.toString()));
    sub.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => sub.on('exit', resolve));
    await until(() => err.includes('subscribed to user:jamie:predictions'), 'the subscriber');
    const env = { REDIS_URL: redis.url, LOG_LEVEL: 'error' };
    const p1 = canopy(
      ['publish', 'jamie', 'predictions', '{"prediction_type":"workload","data":{"workload":0.85}}'],
      env,
    );
    expect(p1.stdout).toContain('published to user:jamie:predictions (1 receiver)');
    const p2 = canopy(['publish', 'jamie', 'predictions', '--codec', 'json', '{"data":{"w":1}}'], env);
    expect(p2.status).toBe(0);
    expect(await exited).toBe(0);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      { type: 'prediction', prediction_type: 'workload', data: { workload: 0.85 } },
      { type: 'prediction', data: { w: 1 } },
    ]);
  });

  it('subscribe: an undecodable or over-limit message is one clear line on stderr, and the command goes on', async () => {
    const sub = spawn(process.execPath, [CLI, 'subscribe', 'alex', 'alerts', '--count', '1'], {
      env: { ...process.env, REDIS_URL: redis.url },
    });
    registerChild(sub);
    let out = '';
    let err = '';
    sub.stdout.on('data', (d: Buffer) => (out += d.toString()));
    sub.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => sub.on('exit', resolve));
    await until(() => err.includes('subscribed to user:alex:alerts'), 'the subscriber');
    const plain = createClient({ url: redis.url });
    await plain.connect();
    try {
      const bad = [
        Buffer.from([0xc1, 0x00]), // never valid MessagePack
        Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x41]), // str32 claiming 4 GB
        Buffer.alloc(200, 0x91), // 200 nested one-element arrays
        Buffer.from(`{"type":"alert","data":${'['.repeat(100)}${']'.repeat(100)}}`),
        Buffer.from('{"type": "alert", '),
      ];
      for (const b of bad) await plain.publish('user:alex:alerts', b);
      await plain.publish(
        'user:alex:alerts',
        JSON.stringify({ type: 'alert', severity: 'info', message: 'still here' }),
      );
    } finally {
      await plain.quit();
    }
    expect(await exited).toBe(0);
    expect(JSON.parse(out.trim())).toEqual({ type: 'alert', severity: 'info', message: 'still here' });
    const skipped = err.split('\n').filter((l) => l.startsWith('skipped a malformed message on user:alex:alerts: '));
    expect(skipped).toHaveLength(5);
    expect(err).not.toMatch(/"level":/); // no JSON log noise unless LOG_LEVEL asks for it
  });

  it('publish refuses bad input with a clear message', () => {
    const env = { REDIS_URL: redis.url };
    const bad = canopy(['publish', 'jamie', 'alerts', '{"severity":"loud","message":"x"}'], env);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/alerts message: \/severity/);
    expect(canopy(['publish', 'jamie', 'nope', '{}'], env).stderr).toMatch(/kind must be one of raw, features/);
    expect(canopy(['publish', 'ja*mie', 'raw', '{}'], env).stderr).toMatch(/invalid user id/);
    expect(canopy(['publish', 'jamie', 'raw', '{oops'], env).stderr).toMatch(/not valid JSON/);
    const deep = canopy(
      ['publish', 'jamie', 'features', `{"features":{"a":${'['.repeat(5000)}${']'.repeat(5000)}}}`],
      env,
    );
    expect(deep.status).toBe(1);
    expect(deep.stderr.trim().split('\n')).toHaveLength(1);
    expect(deep.stderr).toMatch(/nested deeper than 32/);
  });

  it('acl writes a 0600 file without passwords; passwords only when asked for', () => {
    const dir = tempDir();
    const creds = path.join(dir, 'credentials');
    const out = path.join(dir, 'users.acl');
    const r = canopy(['acl', '--consumer', 'ml=jamie', '--credentials', creds, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    expect(fs.statSync(creds).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(out, 'utf8');
    const passwords = fs
      .readFileSync(creds, 'utf8')
      .split('\n')
      .filter((l) => l.includes('=') && !l.startsWith('#'))
      .map((l) => l.split('=')[1]!);
    expect(passwords.length).toBe(13);
    for (const p of passwords) {
      expect(text).not.toContain(p);
      expect(r.stdout + r.stderr).not.toContain(p);
    }
    expect(text).toContain('user consumer-ml reset on #');
    const url = canopy(['acl', '--credentials', creds, '--url-for', 'canopy-api'], {
      REDIS_URL: 'redis://db.example:6380/2',
    });
    const apiPw = fs.readFileSync(creds, 'utf8').match(/^canopy-api=(.*)$/m)![1]!;
    expect(url.stdout.trim()).toBe(`redis://canopy-api:${apiPw}@db.example:6380/2`);
    const envDir = path.join(dir, 'etc');
    fs.mkdirSync(envDir);
    fs.writeFileSync(path.join(envDir, 'api.env'), 'CANOPY_API_TOKENS=admin:x\nREDIS_URL=redis://old\n');
    const e = canopy(['acl', '--credentials', creds, '--env-dir', envDir, '--out', path.join(dir, 'again.acl')], {
      REDIS_URL: 'redis://127.0.0.1:6379',
    });
    expect(e.status, e.stderr).toBe(0);
    expect(fs.readFileSync(path.join(envDir, 'api.env'), 'utf8')).toBe(
      `CANOPY_API_TOKENS=admin:x\nREDIS_URL=redis://canopy-api:${apiPw}@127.0.0.1:6379\n`,
    );
    expect(fs.statSync(path.join(envDir, 'worker.env')).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(path.join(envDir, 'root.env'))).toBe(false);
    const cmds = canopy(['acl', '--credentials', creds, '--format', 'commands']);
    expect(cmds.stdout).toMatch(/^ACL SETUSER canopy-scanner reset on #[0-9a-f]{64} /m);
  });

  it('gateway refuses to start without tokens, and says how to set them', () => {
    const r = canopy(['gateway', '--port', '0'], { REDIS_URL: redis.url, CANOPY_GATEWAY_TOKENS: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/CANOPY_GATEWAY_TOKENS/);
    const weak = canopy(['gateway', '--port', '0'], { REDIS_URL: redis.url, CANOPY_GATEWAY_TOKENS: 'jamie:short' });
    expect(weak.stderr).toMatch(/shorter than 16/);
    expect(canopy(['gateway', '--help']).stdout).toMatch(/Authorization: Bearer/);
  });
});
