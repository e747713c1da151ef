import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/bus/errors.js';
import type { Connection } from '../../src/bus/connection.js';
import { SpooledStreamWriter, type SpooledStreamWriterOptions } from '../../src/bus/spooled-stream.js';
import { scannerEnv } from '../../src/config/scanner.js';
import { register } from '../support/cleanup.js';
import { FaultProxy } from '../support/proxy.js';
import { startRedis } from '../support/redis.js';
import { randomPrefix, tempDir } from '../support/tmp.js';
import { connect, waitFor } from './helpers.js';
import { present } from '../support/narrow.js';

/** A primary and a replica of it (no sentinels: the test plays the failover itself). */
async function pair(viaProxy = false) {
  const primary = await startRedis();
  const proxy = viaProxy ? await FaultProxy.start(primary.port) : undefined;
  if (proxy) register({ stop: () => proxy.close(), killSync: () => proxy.dropAll() });
  const replica = await startRedis({ extraConfig: [`replicaof 127.0.0.1 ${proxy?.port ?? primary.port}`] });
  const conn = await connect(primary.url);
  await waitFor(async () => (await conn.connectedReplicas()) === 1, 'the replica connected', 20_000);
  const r = await connect(replica.url);
  await waitFor(
    async () => (await r.run('INFO', (c) => c.info('replication'))).includes('master_link_status:up'),
    'the replica in sync',
    20_000,
  );
  await r.close();
  return { primary, replica, conn, proxy };
}

/** A writer on `conn` that gives up on WAIT quickly (300 ms) and replays often (50 ms), as every test here wants. */
const quickWriter = (conn: Connection, o: Partial<SpooledStreamWriterOptions> & { stream: string }) =>
  SpooledStreamWriter.open(conn, { dir: tempDir(), waitTimeoutMs: 300, replayIntervalMs: 50, ...o });

const fields = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ n: String(from + i) }));

describe('WAIT-confirmed spool', () => {
  it('takes waitReplicas auto or a count, from options and from the scanner environment; refuses the rest', async () => {
    const bad = SpooledStreamWriter.open(undefined, { stream: 's', dir: tempDir(), waitReplicas: -1 });
    await expect(bad).rejects.toBeInstanceOf(ConfigError);
    await expect(
      SpooledStreamWriter.open(undefined, { stream: 's', dir: tempDir(), waitTimeoutMs: 0 }),
    ).rejects.toThrow(/waitTimeoutMs/);
    expect(scannerEnv({})).toMatchObject({ waitReplicas: 'auto', waitTimeoutMs: 1000 });
    expect(scannerEnv({ CANOPY_SCANNER_WAIT_REPLICAS: '2', CANOPY_SCANNER_WAIT_TIMEOUT_MS: '250' })).toMatchObject({
      waitReplicas: 2,
      waitTimeoutMs: 250,
    });
    expect(() => scannerEnv({ CANOPY_SCANNER_WAIT_REPLICAS: 'some' })).toThrow(ConfigError);
  });

  it('waits for 1 replica when the primary has one; a batch it does not confirm stays spooled until it does', async () => {
    const { replica, conn } = await pair();
    const stream = `${randomPrefix()}s`;
    const w = await quickWriter(conn, { stream });
    expect(await w.write(fields(0, 10))).toBe('redis');
    expect(w.stats).toMatchObject({ waitReplicas: 1, direct: 10, unconfirmed: 0, pending: 0 });

    process.kill(replica.pid as number, 'SIGSTOP'); // the replica stops acknowledging
    try {
      expect(await w.write(fields(10, 10))).toBe('spool');
      expect(w.stats).toMatchObject({ unconfirmed: 10, pending: 10 });
      // later batches queue behind it, in order
      expect(await w.write(fields(20, 5))).toBe('spool');
      expect(await w.flush()).toBe(15);
    } finally {
      process.kill(replica.pid as number, 'SIGCONT');
    }
    await waitFor(async () => (await w.flush()) === 0, 'the spool confirmed and emptied', 20_000);
    const entries = present(await conn.run('XRANGE', (c) => c.xRange(stream, '-', '+')), 'the XRANGE reply');
    expect(entries.map((e) => Number(e.message.n))).toEqual(Array.from({ length: 25 }, (_, i) => i));
    // the 5 queued behind were added by the first replay; the retries until confirmed skipped the rest
    expect(w.stats).toMatchObject({ replayed: 5, reassigned: 0 });
    expect(w.stats.duplicatesSkipped).toBeGreaterThanOrEqual(10);
    await w.close();
  });

  it('a batch the replica never got is replayed into it after a failover, under the ids the old primary gave', async () => {
    const { primary, replica, conn, proxy } = await pair(true);
    const stream = `${randomPrefix()}s`;
    const dir = tempDir();
    const w = await quickWriter(conn, { stream, dir });
    expect(await w.write(fields(0, 5))).toBe('redis');
    proxy?.pause(); // the replication stream stops reaching the replica
    expect(await w.write(fields(5, 5))).toBe('spool');
    const onOld = present(await conn.run('XRANGE', (c) => c.xRange(stream, '-', '+')), 'the XRANGE reply');
    expect(onOld).toHaveLength(10);
    // the primary dies before the replica had the batch; the replica is promoted
    await primary.kill();
    proxy?.dropAll(); // what the paused link still held is gone with it
    const promoted = await connect(replica.url);
    await promoted.run('REPLICAOF NO ONE', (c) => c.sendCommand(['REPLICAOF', 'NO', 'ONE']));
    expect(await promoted.run('XLEN', (c) => c.xLen(stream))).toBe(5);
    w.attach(promoted);
    await waitFor(async () => (await w.flush()) === 0, 'the spool replayed into the new primary', 20_000);
    const onNew = present(await promoted.run('XRANGE', (c) => c.xRange(stream, '-', '+')), 'the XRANGE reply');
    // every entry once, in order, each under the id the old primary gave it
    expect(onNew.map((e) => [e.id, e.message.n])).toEqual(onOld.map((e) => [e.id, e.message.n]));
    expect(w.stats).toMatchObject({ unconfirmed: 5, replayed: 5, reassigned: 0, waitReplicas: 0 });
    await w.close();
    expect(path.basename(w.spoolPath)).toMatch(/\.spool$/);
  });

  // The window a lost reply opens: the old primary added the batch and a reader stored it from there,
  // the replica never had it, the writer never learnt the ids. Sent again, it must keep them.
  for (const assignIds of [true, false]) {
    it(`a batch whose reply the primary's death cut off is sent again under ${assignIds ? 'the ids it was first sent with' : 'new ids when Redis gives them (assignIds false)'}`, async () => {
      const { primary, replica, conn: reader, proxy: link } = await pair(true);
      const front = await FaultProxy.start(primary.port); // the writer's own path to the primary
      const conn = await connect(front.url, { commandTimeoutMs: 60_000 });
      const stream = `${randomPrefix()}s`;
      const w = await quickWriter(conn, { stream, assignIds });
      expect(await w.write(fields(0, 5))).toBe('redis');
      link?.pause(); // the replica stops receiving
      front.pauseReplies(); // the primary's reply to the next batch never reaches the writer
      const second = w.write(fields(5, 5));
      await waitFor(
        async () => (await reader.run('XLEN', (c) => c.xLen(stream))) === 10,
        'the primary added it',
        10_000,
      );
      // what a reader stored
      const seen = present(await reader.run('XRANGE', (c) => c.xRange(stream, '-', '+')), 'the XRANGE reply');
      await primary.kill();
      link?.dropAll();
      front.dropAll();
      expect(await second).toBe('spool');
      const promoted = await connect(replica.url);
      await promoted.run('REPLICAOF NO ONE', (c) => c.sendCommand(['REPLICAOF', 'NO', 'ONE']));
      expect(await promoted.run('XLEN', (c) => c.xLen(stream))).toBe(5);
      w.attach(promoted);
      await waitFor(async () => (await w.flush()) === 0, 'the spool replayed into the new primary', 20_000);
      const onNew = present(await promoted.run('XRANGE', (c) => c.xRange(stream, '-', '+')), 'the XRANGE reply');
      expect(onNew.map((e) => e.message.n)).toEqual(seen.map((e) => e.message.n));
      const same = onNew.filter((e, k) => e.id === seen[k]?.id).length;
      if (assignIds) {
        // every entry under the id the reader has: its store recognises the resent five
        expect(same).toBe(10);
        expect(w.stats).toMatchObject({ replayed: 5, reassigned: 0, idsMoved: 0 });
      } else {
        // the resent five got new ids: a reader keyed by id would store them twice
        expect(same).toBe(5);
      }
      await w.close();
    });
  }
});
