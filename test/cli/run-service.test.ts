/**
 * runUntilSignal in a real process: whatever hangs, a stop signal ends the
 * process within the hard bound (systemd's own limit is 30 s), with status 1
 * and a line saying so; a clean stop exits 0.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerChild } from '../support/cleanup.js';

const MODULE = path.resolve('dist/src/cli/run-service.js');
const LOG = path.resolve('dist/src/util/log.js');

/** A process running a service whose start and stop are given as JS expressions; resolves once it is up. */
async function service(startBody: string, stopBody: string) {
  const code =
    `const { runUntilSignal } = await import(${JSON.stringify(MODULE)});` +
    `const { createLogger } = await import(${JSON.stringify(LOG)});` +
    "const log = createLogger('probe');" +
    `await runUntilSignal('probe', log, async () => { ${startBody}; return { stop: async () => { ${stopBody} } }; }, 500);`;
  const child = registerChild(
    spawn(process.execPath, ['--input-type=module', '-e', code], {
      env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, out: () => out };
}

describe('runUntilSignal', () => {
  it('a stop that never finishes: the process exits 1 once the hard bound has passed, saying so', async () => {
    const s = await service("setInterval(() => {}, 1000); console.log('up')", 'await new Promise(() => {})');
    await expect.poll(s.out, { timeout: 20_000, interval: 20 }).toMatch(/up/);
    s.child.kill('SIGTERM');
    expect(await s.exited, s.out()).toBe(1);
    expect(s.out()).toMatch(/probe did not stop within 500 ms; exiting/);
  });

  it('a start that never finishes (and ignores the abort): the same bound ends it', async () => {
    const s = await service("console.log('starting'); await new Promise(() => setInterval(() => {}, 1000))", '');
    await expect.poll(s.out, { timeout: 20_000, interval: 20 }).toMatch(/starting/);
    s.child.kill('SIGTERM');
    expect(await s.exited, s.out()).toBe(1);
    expect(s.out()).toMatch(/probe stopping while starting/);
    expect(s.out()).toMatch(/did not stop within 500 ms/);
  });

  it('a stop that finishes: exit 0 and no bound reached', async () => {
    const s = await service(
      "setInterval(() => {}, 1000); console.log('up')",
      'await new Promise((r) => setTimeout(r, 100))',
    );
    await expect.poll(s.out, { timeout: 20_000, interval: 20 }).toMatch(/up/);
    s.child.kill('SIGTERM');
    expect(await s.exited, s.out()).toBe(0);
    expect(s.out()).not.toMatch(/did not stop within/);
  });
});
