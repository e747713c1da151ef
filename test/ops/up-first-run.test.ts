import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/ops/ports.js';
import { ensureQuickstartToken } from '../../src/ops/quickstart-token.js';
import { tempDir } from '../support/tmp.js';
import { spawnWatched } from './proc.js';

const CLI = path.resolve('dist/src/cli/main.js');

/** A real listening socket on a free port (what "port in use" means). */
async function occupy(): Promise<{ port: number; close: () => Promise<void> }> {
  const srv = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  return { port, close: () => new Promise((r) => srv.close(() => r())) };
}

/** The environment of a quick start in its own data directory, nothing inherited that picks ports or tokens. */
function quickstartEnv(dataDir: string, apiPort: number, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    CANOPY_DATA_DIR: dataDir,
    CANOPY_API_PORT: String(apiPort),
    DATABASE_URL: '',
    REDIS_URL: '',
    CANOPY_API_TOKENS: '',
    CANOPY_API_TOKENS_FILE: '',
    LOG_FORMAT: '',
    ...extra,
  };
}

const STACK = /^\s+at /m;

describe('canopy up checks its ports before starting anything', () => {
  it('the API port taken by a listening socket: one line naming the port, this process and CANOPY_API_PORT; nothing starts', async () => {
    const taken = await occupy();
    try {
      const dataDir = tempDir('canopy-up-port-');
      const up = spawnWatched(process.execPath, [CLI, 'up', '--redis-port', String(await freePort())], {
        ...quickstartEnv(dataDir, taken.port),
      });
      const { code } = await up.exited;
      expect(code).toBe(1);
      const err = up.lines.filter((l) => l.startsWith('[stderr]'));
      expect(err).toHaveLength(1);
      expect(err[0]).toContain(`port ${taken.port} (for the api)`);
      expect(err[0]).toContain(`pid ${process.pid}`); // the holder, found in /proc (it is this test)
      expect(err[0]).toContain('CANOPY_API_PORT=');
      expect(err.join('\n')).not.toMatch(STACK);
      expect(up.lines.filter((l) => /started|Canopy is up|Dashboard/.test(l))).toEqual([]);
      expect(fs.existsSync(path.join(dataDir, 'redis'))).toBe(false); // no Redis was started
    } finally {
      await taken.close();
    }
  }, 60_000);

  it('a taken --redis-port is refused with the flag to change it (never silently replaced)', async () => {
    const taken = await occupy();
    try {
      const dataDir = tempDir('canopy-up-port-');
      const up = spawnWatched(process.execPath, [CLI, 'up', '--redis-port', String(taken.port)], {
        ...quickstartEnv(dataDir, await freePort()),
      });
      expect((await up.exited).code).toBe(1);
      const err = up.lines.filter((l) => l.startsWith('[stderr]')).join('\n');
      expect(err).toContain(`port ${taken.port} (for the managed Redis)`);
      expect(err).toContain('--redis-port N');
      expect(up.lines.filter((l) => /started|Canopy is up/.test(l))).toEqual([]);
    } finally {
      await taken.close();
    }
  }, 60_000);
});

describe('canopy up says "up" only when the dashboard answers', () => {
  it('an api that crash-loops (bad token setting): says so, stops everything, exits 1, never prints up', async () => {
    const dataDir = tempDir('canopy-up-crash-');
    const up = spawnWatched(process.execPath, [CLI, 'up', '--redis-port', String(await freePort())], {
      ...quickstartEnv(dataDir, await freePort(), { CANOPY_API_TOKENS: 'not-a-role-and-token' }),
    });
    const { code } = await up.exited;
    expect(code).toBe(1);
    expect(up.lines.some((l) => /^api exited unexpectedly/.test(l))).toBe(true);
    expect(up.lines.join('\n')).toMatch(/the api keeps crashing \(\d+ exits, last: exit code 1\); Canopy is NOT up/);
    expect(up.lines.filter((l) => /^Canopy is up|^Dashboard:/.test(l))).toEqual([]);
    expect(up.lines).toContain('Redis stopped'); // the managed Redis is not left behind
  }, 240_000);

  it('first run: up once GET / and /health answer; an operator token in data/operator.token (0600) that the API takes, and its refusal says where it is', async () => {
    const dataDir = tempDir('canopy-up-token-');
    const apiPort = await freePort();
    const up = spawnWatched(process.execPath, [CLI, 'up', '--redis-port', String(await freePort())], {
      ...quickstartEnv(dataDir, apiPort),
    });
    await up.waitFor(/^Canopy is up/, 180_000);
    // the moment it says up, the dashboard answers
    const base = `http://127.0.0.1:${apiPort}`;
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect([200, 503]).toContain((await fetch(`${base}/health`)).status);
    await up.waitFor(/^Dashboard: /);
    const line = (await up.waitFor(/^Operator token \(to control devices\): (\S+) \(mode 0600, created now\)/))[1];
    const file = path.join(dataDir, 'operator.token');
    expect(line).toBe(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dataDir, 'api-tokens')).mode & 0o777).toBe(0o600);
    const token = fs.readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(up.lines.join('\n')).not.toContain(token); // not on a pipe (only once on a terminal)

    const command = (auth?: string) =>
      fetch(`${base}/api/devices/nonexistent-device`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body: JSON.stringify({ mode: 'auto' }),
      });
    const refused = await command();
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { message: string }).message).toContain(`paste the operator token from ${file}`);
    const wrong = await command('wrong-token-0123456789abcdef');
    expect(((await wrong.json()) as { message: string }).message).toMatch(/^the token is not valid: paste/);
    expect((await command(token)).status).toBe(404); // accepted as operator; the device is unknown
    up.child.kill('SIGTERM');
    expect((await up.exited).code).toBe(0);
  }, 300_000);
});

describe('the quick start token file', () => {
  it('is created once with mode 0600, reused afterwards, tightened when made readable, replaced when unusable', () => {
    const dir = tempDir('canopy-token-');
    const first = ensureQuickstartToken(dir);
    expect(first.created).toBe(true);
    expect(fs.statSync(first.operatorFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(first.tokensFile).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(first.tokensFile, 'utf8')).toBe(`operator@quickstart:${first.token}\n`);

    const again = ensureQuickstartToken(dir);
    expect(again).toMatchObject({ created: false, tightened: false, token: first.token });

    fs.chmodSync(first.operatorFile, 0o644);
    const tightened = ensureQuickstartToken(dir);
    expect(tightened).toMatchObject({ created: false, tightened: true, token: first.token });
    expect(fs.statSync(first.operatorFile).mode & 0o777).toBe(0o600);

    fs.writeFileSync(first.operatorFile, 'short\n', { mode: 0o600 });
    const replaced = ensureQuickstartToken(dir);
    expect(replaced.created).toBe(true);
    expect(replaced.token).not.toBe(first.token);
    expect(fs.readFileSync(first.tokensFile, 'utf8')).toBe(`operator@quickstart:${replaced.token}\n`);
  });
});
