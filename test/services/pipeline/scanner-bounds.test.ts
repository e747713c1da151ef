import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { sendAdminMessage } from '../../../src/bus/mailbox.js';
import { listInstances } from '../../../src/bus/presence.js';
import { makeFrame, type CanFrame } from '../../../src/can/frame.js';
import { emptyStats, type FrameSource } from '../../../src/can/sources/types.js';
import { ConfigError } from '../../../src/bus/errors.js';
import { scannerEnv } from '../../../src/config/scanner.js';
import { start as startScanner } from '../../../src/services/scanner/index.js';

/** The scanner's bounds as its configuration reads them from the environment. */
const boundsFromEnv = (env: NodeJS.ProcessEnv) => {
  const { spoolMaxBytes, maxFutureSkewMs } = scannerEnv(env);
  return { spoolMaxBytes, maxFutureSkewMs };
};
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { quietLogger, rawClient, waitFor } from './helpers.js';
import { present } from '../../support/narrow.js';

/** A source that yields the given batches, then waits until closed (a live bus that went quiet). */
function batchesSource(batches: CanFrame[][]): FrameSource & { drained: Promise<void> } {
  let closed = false;
  let wake: () => void = () => undefined;
  let drained: () => void = () => undefined;
  const drainedP = new Promise<void>((r) => (drained = r));
  return {
    kind: 'pipe',
    drained: drainedP,
    async *batches() {
      for (const b of batches) {
        if (closed) return;
        yield b;
      }
      drained();
      await new Promise<void>((r) => (wake = r));
    },
    async close() {
      closed = true;
      wake();
    },
    stats: () => emptyStats(),
  };
}

const NOW = 1_800_000_000_000;

describe('scanner bounds (issue 12, point 6)', () => {
  it('rejects and counts frames stamped beyond the future skew; they never reach can:raw; the status reply shows the count', async () => {
    const redis = await startRedis();
    const frame = (i: number, ts: number) => makeFrame(0x101, [i], ts);
    const source = batchesSource([
      [frame(1, NOW - 1000), frame(2, NOW + 59_000), frame(3, NOW + 61_000)],
      [frame(4, NOW + 10 * 365 * 86_400_000), frame(5, NOW)],
    ]);
    const scanner = await startScanner({
      source,
      redisUrl: redis.url,
      useRedis: true,
      spoolDir: path.join(tempDir(), 'spool'),
      stream: 'can:raw',
      trim: { maxLen: 1000 },
      maxFutureSkewMs: 60_000,
      now: () => NOW,
      logger: quietLogger(),
    });
    await source.drained;
    const raw = await rawClient(redis.url);
    await waitFor('frames in can:raw', async () => (await raw.xLen('can:raw')) === 3);
    const data = present(await raw.xRange('can:raw', '-', '+'), 'the XRANGE reply').map((e) => e.message.data);
    expect(data).toEqual(['01', '02', '05']);
    expect(scanner.stats().futureRejected).toBe(2);
    // visible to operators: the status reply (and heartbeat) carry the counter
    const conn = await Connection.connect({ url: redis.url, healthCheckIntervalMs: 0 });
    const [inst] = (await listInstances(conn)).filter((i) => i.info?.service === 'scanner');
    const { reply } = await sendAdminMessage(conn, inst!.instance, 'status');
    expect(reply?.result).toMatchObject({ futureRejected: 2, dropped: 0, spoolFull: false });
    await conn.close();
    raw.destroy();
    await scanner.stop();
  });

  it('a full spool drops the newest batches (counted, spoolFull) and keeps the oldest; Redis back, they replay in order', async () => {
    const dir = tempDir();
    const n = 400;
    const frames = Array.from({ length: n }, (_, i) => makeFrame(0x101, [i & 0xff, i >> 8], NOW + i));
    const source = batchesSource(frames.map((f) => [f]));
    const scanner = await startScanner({
      source,
      useRedis: false, // Redis unreachable: every batch goes to the spool
      spoolDir: path.join(dir, 'spool'),
      stream: 'can:raw',
      trim: { maxLen: 10_000 },
      spoolMaxBytes: 16 * 1024,
      now: () => NOW,
      logger: quietLogger(),
    });
    await source.drained;
    const s = scanner.stats();
    expect(s.dropped).toBeGreaterThan(0);
    expect(s.spooled + s.dropped).toBe(n);
    expect(scanner.writer.stats.spoolFull).toBe(true);
    expect(scanner.writer.stats.spoolBytes).toBeLessThanOrEqual(16 * 1024);
    const kept = s.spooled;
    await scanner.stop();

    // the next run, with Redis: the spool is replayed, oldest first, nothing of it lost
    const redis = await startRedis();
    const again = batchesSource([]);
    const s2 = await startScanner({
      source: again,
      redisUrl: redis.url,
      useRedis: true,
      spoolDir: path.join(dir, 'spool'),
      stream: 'can:raw',
      trim: { maxLen: 10_000 },
      spoolMaxBytes: 16 * 1024,
      logger: quietLogger(),
    });
    const raw = await rawClient(redis.url);
    await waitFor('the spool replayed', async () => (await raw.xLen('can:raw')) === kept, 60_000);
    const ts = present(await raw.xRange('can:raw', '-', '+'), 'the XRANGE reply').map((e) => Number(e.message.ts));
    expect(ts).toEqual(frames.slice(0, kept).map((f) => f.ts));
    raw.destroy();
    await s2.stop();
  });

  it('bounds come from the environment, validated', () => {
    expect(boundsFromEnv({})).toEqual({ spoolMaxBytes: 512 * 1024 * 1024, maxFutureSkewMs: 300_000 });
    expect(boundsFromEnv({ CANOPY_SPOOL_MAX_BYTES: '1048576', CANOPY_MAX_FUTURE_SKEW_MS: '1000' })).toEqual({
      spoolMaxBytes: 1_048_576,
      maxFutureSkewMs: 1000,
    });
    expect(() => boundsFromEnv({ CANOPY_SPOOL_MAX_BYTES: '-1' })).toThrow(
      /CANOPY_SPOOL_MAX_BYTES must be a positive integer/,
    );
    expect(() => boundsFromEnv({ CANOPY_MAX_FUTURE_SKEW_MS: 'soon' })).toThrow(/CANOPY_MAX_FUTURE_SKEW_MS/);
  });

  it("can:raw's trim bound comes from the environment, validated and named in the error", () => {
    expect(scannerEnv({}).trim).toEqual({ maxLen: 2_000_000 });
    expect(scannerEnv({ CANOPY_STREAM_MAXLEN: '500000' }).trim).toEqual({ maxLen: 500_000 });
    expect(scannerEnv({ CANOPY_STREAM_MINID_MS: '86400000' }).trim).toEqual({ minAgeMs: 86_400_000 });
    expect(() => scannerEnv({ CANOPY_STREAM_MAXLEN: '2e6x' })).toThrow(
      /CANOPY_STREAM_MAXLEN must be a positive integer/,
    );
    expect(() => scannerEnv({ CANOPY_STREAM_MINID_MS: '-5' })).toThrow(
      /CANOPY_STREAM_MINID_MS must be a positive integer/,
    );
    expect(() => scannerEnv({ CANOPY_STREAM_MAXLEN: '0' })).toThrow(ConfigError);
  });
});
