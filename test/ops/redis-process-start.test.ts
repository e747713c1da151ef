/**
 * When RedisProcess.start calls a server started. A TCP connect is not enough:
 * redis-server binds its client port before its cluster-bus port, and the
 * kernel accepts connections into the backlog at once, so a node whose bus
 * port is taken is connectable for a moment before it exits. The start waits
 * for a reply to PING; a server that never replies is killed at the deadline.
 * Both fakes below are a Node script standing in for redis-server (it reads
 * the port and log file from the config it is given, as redis-server does).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RedisProcess } from '../../src/ops/redis-process.js';
import { register } from '../support/cleanup.js';
import { tempDir } from '../support/tmp.js';
import { alive, until } from './proc.js';

/**
 * An executable fake redis-server: answers `--version`, listens on the
 * config's port and accepts connections without ever replying, writes its pid
 * into its directory, then runs `then` (a script fragment; `log` writes a line
 * to the config's log file).
 */
function fakeServer(then: string): string {
  const file = path.join(tempDir('canopy-fake-redis-'), 'redis-server');
  const script = `#!${process.execPath}
import fs from 'node:fs';
import net from 'node:net';
if (process.argv[2] === '--version') { console.log('Redis server v=7.0.0'); process.exit(0); }
const conf = fs.readFileSync(process.argv[2], 'utf8');
const port = Number(/^port (\\d+)$/m.exec(conf)[1]);
const logfile = /^logfile (.+)$/m.exec(conf)[1];
const log = (line) => fs.appendFileSync(logfile, line + '\\n');
fs.writeFileSync(logfile + '.pid', String(process.pid));
net.createServer(() => {}).listen(port, '127.0.0.1', () => { ${then} });
`;
  fs.writeFileSync(file, script, { mode: 0o755 });
  return file;
}

/** The fake's pid, once it has written it, with a kill registered for the file's end. */
async function fakePid(dir: string): Promise<number> {
  const file = path.join(dir, 'redis.log.pid');
  await until(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8') !== '', 10_000, 'the fake to write its pid');
  const pid = Number(fs.readFileSync(file, 'utf8'));
  const kill = () => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  };
  register({ stop: async () => kill(), killSync: kill });
  return pid;
}

describe('RedisProcess.start waits for a reply, not a connect', () => {
  it('a server that accepts on its port and then exits at start is a failed start, with its log line', async () => {
    const binary = fakeServer(
      "setTimeout(() => { log('# Failed listening on port 99 (cluster), aborting.'); process.exit(1); }, 400);",
    );
    const dir = tempDir('canopy-redis-exits-');
    const started = RedisProcess.start({ dir, binary, aof: false });
    const pid = await fakePid(dir);
    const err = await started.then(
      () => new Error('start resolved'),
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(/exited with 1: .*Failed listening on port 99 \(cluster\)/);
    expect(alive(pid)).toBe(false);
  });

  it('a server that listens but never replies is killed at the start deadline, and the start fails', async () => {
    const binary = fakeServer("log('listening, silent');");
    const dir = tempDir('canopy-redis-silent-');
    const started = RedisProcess.start({ dir, binary, aof: false, startTimeoutMs: 1_000 });
    const pid = await fakePid(dir);
    const err = await started.then(
      () => new Error('start resolved'),
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(/no Redis reply on 127\.0\.0\.1:\d+ after 1000 ms/);
    await until(() => !alive(pid), 5_000, 'the silent server to be killed');
  });
});
