/**
 * `canopy recorder` as a real process under libfaketime: its duplicate check
 * (one message on its broad, level and specific channels is recorded once)
 * runs on the monotonic clock, so a wall-clock step forward of an hour does
 * not forget a message seen a moment ago, and a step back does not keep one
 * for an hour.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { until } from '../../support/cli-procs.js';
import { register } from '../../support/cleanup.js';
import { fakeClock } from '../../support/faketime.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';

const CLI = path.resolve('dist/src/cli/main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every recorded message's `n`, in file order (the recorder writes `{ts, channel, message}` lines). */
function recorded(dir: string): unknown[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('updates-'))
    .sort()
    .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n'))
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { message: { n: unknown } }).message.n);
}

describe('recorder under a wall-clock step (libfaketime, real process)', () => {
  it('a repeat a moment after a step forward of an hour is still a duplicate; after a step back the window still ends', async () => {
    const redis = await startRedis();
    const dir = tempDir();
    const rec = path.join(dir, 'recordings');
    const clock = fakeClock(path.join(dir, 'faketime'), 0);
    const child = spawn(process.execPath, [CLI, 'recorder', '--dir', rec], {
      env: { ...process.env, REDIS_URL: redis.url, CANOPY_DATA_DIR: dir, LOG_LEVEL: 'error', ...clock.env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const kill = () => void (child.exitCode === null && child.kill('SIGKILL'));
    register({ stop: async () => kill(), killSync: kill });
    const pub = createClient({ url: redis.url });
    await pub.connect();
    try {
      // subscribed once a probe is recorded (PSUBSCRIBE happens after start)
      await until(
        'the recorder to record a probe',
        () => {
          void pub.publish('analytics:update', JSON.stringify({ n: 'probe' }));
          return recorded(rec).includes('probe');
        },
        20_000,
      );
      await sleep(2500); // probes out of the 2-s window

      await pub.publish('analytics:update', JSON.stringify({ n: 'a' }));
      await until('a recorded', () => recorded(rec).includes('a'), 20_000);
      clock.set(3600);
      await pub.publish('analytics:update', JSON.stringify({ n: 'a' })); // within the window on the monotonic clock
      // handled in order: once the marker is written, the repeat was judged under the stepped clock
      await pub.publish('analytics:update', JSON.stringify({ n: 'm' }));
      await until('the marker recorded', () => recorded(rec).includes('m'), 20_000);
      clock.set(-3600);
      await pub.publish('analytics:update', JSON.stringify({ n: 'b' }));
      await until('b recorded', () => recorded(rec).includes('b'), 20_000);
      await sleep(2500); // past the window on the monotonic clock, an hour short of it on the wall clock
      await pub.publish('analytics:update', JSON.stringify({ n: 'b' }));
      await pub.publish('analytics:update', JSON.stringify({ n: 'end' }));
      await until('end recorded', () => recorded(rec).includes('end'), 20_000);

      const got = recorded(rec).filter((n) => n !== 'probe');
      expect(got).toEqual(['a', 'm', 'b', 'b', 'end']);
      expect(child.exitCode).toBeNull();
    } finally {
      await pub.quit();
      kill();
    }
  }, 60_000);
});
