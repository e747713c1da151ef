import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseNumber } from '../../src/cli/numbers.js';
import { spawnSync } from '../support/run-sync.js';
import { tempDir } from '../support/tmp.js';

const CLI = path.resolve('dist/src/cli/main.js');

function canopy(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CANOPY_DATA_DIR: tempDir('canopy-cli-'), LOG_FORMAT: '', ...env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('numbers from the command line are checked (one helper for every numeric option)', () => {
  it('parseNumber refuses what is not a plain decimal number, and out-of-range values, naming the text', () => {
    for (const bad of ['abc', '', ' ', '12abc', '0x10', '1e3', 'NaN', 'Infinity', '1.5.2']) {
      expect(() => parseNumber(bad, { integer: true }), bad).toThrow(InvalidArgumentError);
    }
    expect(() => parseNumber('abc')).toThrow(/"abc" is not a number/);
    expect(() => parseNumber('2.5', { integer: true })).toThrow(/"2.5" is not a whole number/);
    expect(() => parseNumber('70000', { integer: true, min: 1, max: 65535 })).toThrow(
      /70000 is out of range: it must be 1 to 65535/,
    );
    expect(() => parseNumber('0', { integer: true, min: 1 })).toThrow(/at least 1/);
    expect(parseNumber(' 8080 ', { integer: true, min: 1, max: 65535 })).toBe(8080);
    expect(parseNumber('0.25')).toBe(0.25);
  });

  it.each([
    [['api', '--port', 'abc'], "option '--port <port>' argument 'abc' is invalid", '"abc" is not a whole number'],
    [['api', '--port', '99999'], "option '--port <port>' argument '99999' is invalid", 'out of range'],
    [['up', '--redis-port', '-1'], "option '--redis-port <port>' argument '-1' is invalid", 'out of range'],
    [['worker', '--batch', '0'], "option '--batch <n>' argument '0' is invalid", 'at least 1'],
    [['backup', '--keep', 'many'], "option '--keep <n>' argument 'many' is invalid", '"many" is not a whole number'],
    [['subscribe', 'sensor:update', '-n', '3x'], "option '-n, --count <n>' argument '3x' is invalid", 'whole number'],
  ])('canopy %j: refused before anything starts, naming the flag and the value', (args, flag, why) => {
    const r = canopy(args);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(flag);
    expect(r.stderr).toContain(why);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('CANOPY_API_PORT=abc is refused by canopy up and canopy api, naming the variable and the value', () => {
    for (const cmd of ['up', 'api']) {
      const r = canopy([cmd], { CANOPY_API_PORT: 'abc', REDIS_URL: 'redis://127.0.0.1:1' });
      expect(r.status, cmd).toBe(1);
      expect(r.stderr, cmd).toContain('CANOPY_API_PORT=abc');
      expect(r.stderr, cmd).toContain('"abc" is not a whole number');
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });
});
