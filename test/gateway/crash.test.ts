import { spawn } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT_UNCAUGHT } from '../../src/cli/run-service.js';
import { register } from '../support/cleanup.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { TOKENS, until } from './helpers.js';

const CLI = path.resolve('dist/src/cli/main.js');
const INJECT = path.resolve('test/gateway/fixtures/inject-throw.mjs');

/** Spawns `canopy gateway` with a preload that fails inside it on SIGUSR2. */
function gatewayWithInjection(redis: TestRedis, inject: 'throw' | 'reject') {
  const tokens = [...TOKENS].map(([u, t]) => `${u}:${t}`).join(',');
  const child = spawn(process.execPath, ['--import', INJECT, CLI, 'gateway', '--port', '0'], {
    env: { ...process.env, REDIS_URL: redis.url, CANOPY_GATEWAY_TOKENS: tokens, INJECT: inject, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const unregister = register({
    stop: async () => void child.kill('SIGKILL'),
    killSync: () => void child.kill('SIGKILL'),
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      unregister();
      resolve(code);
    }),
  );
  return { child, exited, stderr: () => err };
}

describe('service processes: uncaught exceptions and unhandled rejections', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });

  for (const inject of ['throw', 'reject'] as const) {
    it(`an injected ${inject} logs one fatal line and exits non-zero (never runs on)`, async () => {
      const g = gatewayWithInjection(redis, inject);
      await until(() => g.stderr().includes('gateway listening'), 'the gateway to listen', 30_000);
      g.child.kill('SIGUSR2');
      const code = await g.exited;
      expect(code).toBe(EXIT_UNCAUGHT);
      const fatal = g
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string; kind?: string; err?: { message: string } })
        .filter((l) => l.level === 60);
      expect(fatal).toHaveLength(1);
      expect(fatal[0]!.kind).toBe(inject === 'throw' ? 'uncaughtException' : 'unhandledRejection');
      expect(fatal[0]!.msg).toMatch(/exiting for the supervisor to restart/);
      expect(fatal[0]!.err?.message).toMatch(/injected/);
      // the relay tokens (environment) never reach the log
      for (const t of TOKENS.values()) expect(g.stderr()).not.toContain(t);
    });
  }
});
