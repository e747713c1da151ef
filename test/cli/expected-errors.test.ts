import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../../src/bus/errors.js';
import { expectedErrorLine } from '../../src/cli/expected.js';
import { freePort } from '../../src/ops/ports.js';
import { StoreError } from '../../src/store/errors.js';
import { logFormat } from '../../src/util/log.js';
import { startRedis } from '../support/redis.js';
import { spawnSync } from '../support/run-sync.js';
import { tempDir } from '../support/tmp.js';

const CLI = path.resolve('dist/src/cli/main.js');
const STACK = /^\s+at /m;

function canopy(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CANOPY_DATA_DIR: tempDir('canopy-err-'), INVOCATION_ID: '', JOURNAL_STREAM: '', ...env },
    timeout: 90_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs under a pseudo-terminal (`script`), so stderr is a TTY as on a person's terminal. */
function canopyOnTty(args: string[], env: NodeJS.ProcessEnv) {
  const cmd = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
    encoding: 'utf8',
    env: { ...process.env, CANOPY_DATA_DIR: tempDir('canopy-err-'), INVOCATION_ID: '', JOURNAL_STREAM: '', ...env },
    timeout: 90_000,
  });
  return { status: r.status, out: r.stdout.replace(/\r/g, '') };
}

describe('log format: readable on a terminal, JSON otherwise', () => {
  it('logFormat: LOG_FORMAT wins; else pretty only on a TTY outside systemd', () => {
    expect(logFormat({ LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(logFormat({ LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
    expect(logFormat({ LOG_FORMAT: 'bogus' }, true)).toBe('json');
    expect(logFormat({}, true)).toBe('pretty');
    expect(logFormat({}, false)).toBe('json');
    expect(logFormat({ INVOCATION_ID: 'abc' }, true)).toBe('json'); // a systemd unit
    expect(logFormat({ JOURNAL_STREAM: '8:123' }, true)).toBe('json');
  });

  it('the pretty logger still redacts secrets (a real process writing to its stderr)', () => {
    const script =
      "import { createLogger } from './dist/src/util/log.js';" +
      "createLogger('t', 'info', 'pretty').info({ token: 'very-secret-token-value', url: 'redis://u:pw@h' }, 'hello');";
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    const out = r.stderr.trim();
    expect(out.split('\n')).toHaveLength(1);
    expect(out).toMatch(/INFO.*t: hello/);
    expect(out).not.toContain('very-secret-token-value');
    expect(out).not.toContain('pw@h');
    expect(() => JSON.parse(out)).toThrow(); // not a JSON line
  });
});

describe('expected errors are one clear line with the fix, no stack trace', () => {
  it('expectedErrorLine knows codes, not messages; an unknown error is not "expected"', () => {
    const refused = new ConnectionError('connect ECONNREFUSED 127.0.0.1:1');
    expect(expectedErrorLine('worker', refused)).toMatch(
      /^canopy worker: connect ECONNREFUSED .*\[BUS_CONNECTION\] — is Redis running\?/,
    );
    const wrapped = new Error('start failed', { cause: new StoreError('STORE_UNAVAILABLE', 'disk gone') });
    expect(expectedErrorLine('worker', wrapped)).toMatch(
      /\[STORE_UNAVAILABLE\] — start PostgreSQL, or check the SQLite path/,
    );
    const inUse = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', port: 8000 });
    expect(expectedErrorLine('api', inUse)).toBe(
      'canopy api: port 8000 is already in use by another program; stop it or choose another port (--port N or CANOPY_API_PORT=N)',
    );
    // the same text without the code is not recognised: never matched by message
    expect(expectedErrorLine('api', new Error('listen EADDRINUSE: address already in use'))).toBeUndefined();
    expect(expectedErrorLine('api', new TypeError('x is undefined'))).toBeUndefined();
  });

  it('Redis unreachable (JSON logs, not a TTY): a JSON fatal line with the code and no stack, plus the one human line', async () => {
    const port = await freePort(); // nothing listens there
    const r = canopy(['api', '--port', '0'], { REDIS_URL: `redis://127.0.0.1:${port}`, LOG_FORMAT: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).not.toContain('"stack"');
    const lines = r.stderr.trim().split('\n');
    const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; code?: string });
    expect(json.find((j) => j.level === 60)?.code).toBe('BUS_CONNECTION');
    const human = lines.filter((l) => l.startsWith('canopy api:'));
    expect(human).toHaveLength(1);
    expect(human[0]).toMatch(/\[BUS_CONNECTION\] — is Redis running\?/);
  }, 120_000);

  it('the API port in use (real socket), on a terminal: readable lines, one of them the error with the flag, no stack', async () => {
    const redis = await startRedis();
    const srv = net.createServer((s) => s.destroy());
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    const port = (srv.address() as net.AddressInfo).port;
    try {
      const r = canopyOnTty(['api', '--port', String(port)], { REDIS_URL: redis.url, LOG_FORMAT: '' });
      expect(r.status).toBe(1);
      expect(r.out).not.toMatch(STACK);
      const lines = r.out.trim().split('\n');
      expect(lines.filter((l) => l.trim().startsWith('{'))).toEqual([]); // not JSON on a terminal
      const fatal = lines.filter((l) => l.includes(`port ${port} is already in use`));
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toContain('--port N or CANOPY_API_PORT=N');
      expect(fatal[0]).toMatch(/FATAL/);
    } finally {
      await new Promise((res) => srv.close(res));
    }
  }, 120_000);
});
