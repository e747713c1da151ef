import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/bus/breaker.js';
import { Connection } from '../../src/bus/connection.js';
import type { BusLogger } from '../../src/bus/log.js';
import { decodeRecord, encodeRecord, SpoolFile } from '../../src/bus/spool.js';
import { SpooledStreamWriter } from '../../src/bus/spooled-stream.js';
import { startRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';
import { present } from '../support/narrow.js';

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

function captureLogger(): BusLogger & { lines: { level: string; obj: Record<string, unknown>; msg: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('spool file', () => {
  it('detects a torn tail and a corrupt record; keeps every good record', async () => {
    const dir = tempDir();
    const p = path.join(dir, 'x.spool');
    const rec = (q: number) => ({ w: 'w1', q, t: 1, f: { n: String(q) } });
    const bad = encodeRecord(rec(2)).replace('"n":"2"', '"n":"9"'); // checksum no longer matches
    fs.writeFileSync(p, encodeRecord(rec(1)) + bad + encodeRecord(rec(3)) + encodeRecord(rec(4)).slice(0, 20));
    const log = captureLogger();
    const { file, records } = await SpoolFile.open(p, log);
    expect(records).toBe(2);
    expect(fs.statSync(p).size).toBe(Buffer.byteLength(encodeRecord(rec(1)) + bad + encodeRecord(rec(3))));
    expect(log.lines.some((l) => l.level === 'warn' && /torn/.test(l.msg))).toBe(true);
    const read = await file.read(0);
    expect(read.records.map((r) => r.q)).toEqual([1, 3]);
    expect(read.corrupt).toBe(1);
    expect(decodeRecord(bad.trimEnd())).toBeUndefined();
    await file.close();
  });
});

describe('spool size cap', () => {
  it('a batch that would pass maxBytes is not written at all; the file keeps what it had', async () => {
    const p = path.join(tempDir(), 'cap.spool');
    const { file } = await SpoolFile.open(p);
    const rec = (q: number) => ({ w: 'w1', q, t: 1, f: { n: String(q) } });
    const one = Buffer.byteLength(encodeRecord(rec(1)));
    expect(await file.append([rec(1), rec(2)], one * 2)).toBe(true);
    expect(await file.append([rec(3)], one * 2)).toBe(false);
    expect(file.size).toBe(one * 2);
    expect(fs.statSync(p).size).toBe(one * 2);
    expect((await file.read(0)).records.map((r) => r.q)).toEqual([1, 2]);
    await file.close();
  });

  it('the writer drops and counts batches once full, logs it once, and validates the cap', async () => {
    const log = captureLogger();
    const w = await SpooledStreamWriter.open(undefined, {
      stream: 'can:raw',
      dir: tempDir(),
      useRedis: false,
      maxSpoolBytes: 1000,
      logger: log,
    });
    closers.push(() => w.close());
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) outcomes.push(await w.write([{ id: '0x101', data: 'AA', ts: String(i), dlc: '1' }]));
    expect(outcomes.slice(0, 5)).toEqual(['spool', 'spool', 'spool', 'spool', 'spool']);
    expect(outcomes.at(-1)).toBe('dropped');
    const s = w.stats;
    expect(s.spooled + s.dropped).toBe(30);
    expect(s.spoolFull).toBe(true);
    expect(s.spoolBytes).toBeLessThanOrEqual(1000);
    expect(log.lines.filter((l) => /spool full/.test(l.msg))).toHaveLength(1);
    await expect(
      SpooledStreamWriter.open(undefined, { stream: 'x', dir: tempDir(), maxSpoolBytes: 0 }),
    ).rejects.toThrow(/maxSpoolBytes must be > 0/);
  });
});

describe('circuit breaker', () => {
  it('opens after N failures, lets one probe through when half-open, closes on success', () => {
    let now = 0;
    const log = captureLogger();
    const b = new CircuitBreaker({ failureThreshold: 2, openBaseMs: 100, openMaxMs: 100, now: () => now, logger: log });
    b.failure(new Error('x'));
    expect(b.state).toBe('closed');
    b.failure(new Error('y'));
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    now = 200;
    expect(b.state).toBe('half-open');
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false);
    b.success();
    expect(b.state).toBe('closed');
    expect(log.lines.map((l) => l.obj.to)).toEqual(['open', 'half-open', 'closed']);
  });
});

describe('spooled stream writer', () => {
  it('Redis down for a while under load, then back: every entry reaches the stream once, in order; breaker changes logged', async () => {
    const redis = await startRedis({ aof: true, extraConfig: ['appendfsync always'] });
    const conn = await Connection.connect({
      url: redis.url,
      commandTimeoutMs: 500,
      reconnectBaseMs: 50,
      reconnectMaxMs: 200,
    });
    conn.on('error', () => undefined);
    closers.push(() => conn.close());
    const log = captureLogger();
    const w = await SpooledStreamWriter.open(conn, {
      stream: 'can:raw',
      dir: tempDir(),
      trim: { maxLen: 1_000_000 },
      replayBatch: 50,
      replayIntervalMs: 50,
      breaker: { failureThreshold: 3, openBaseMs: 100, openMaxMs: 400 },
      logger: log,
    });
    closers.push(() => w.close());
    let n = 0;
    const batch = () => Array.from({ length: 5 }, () => ({ id: '0x101', data: 'AA BB', seq: String(n++) }));
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) outcomes.push(await w.write(batch()));
    await redis.kill();
    for (let i = 0; i < 60; i++) {
      outcomes.push(await w.write(batch()));
      await sleep(10);
    }
    expect(w.breaker.state === 'open' || w.breaker.state === 'half-open').toBe(true);
    expect(w.stats.pending).toBeGreaterThan(0);
    await redis.restart();
    for (let i = 0; i < 40; i++) {
      outcomes.push(await w.write(batch()));
      await sleep(5);
    }
    while ((await w.flush()) > 0) await sleep(50);
    expect(outcomes).toContain('spool');
    expect(outcomes).toContain('redis');

    const entries = present(await conn.client.xRange('can:raw', '-', '+'), 'the XRANGE reply');
    expect(entries).toHaveLength(n);
    expect(entries.map((e) => Number(e.message.seq))).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(w.stats.pending).toBe(0);
    expect(fs.statSync(w.spoolPath).size).toBe(0);
    const changes = log.lines.filter((l) => /circuit breaker/.test(l.msg)).map((l) => `${l.obj.from}->${l.obj.to}`);
    expect(changes[0]).toBe('closed->open');
    expect(changes).toContain('half-open->closed');
    expect(changes.at(-1)).toBe('half-open->closed');
  });

  it('a replay interrupted after Redis took a batch (lost reply, crash) adds nothing twice', async () => {
    const redis = await startRedis();
    const conn = await Connection.connect({ url: redis.url });
    closers.push(() => conn.close());
    const dir = tempDir();
    // a first run spools 30 entries (USE_REDIS=false), then "crashes"
    const w1 = await SpooledStreamWriter.open(undefined, { stream: 's', dir, useRedis: false });
    for (let i = 0; i < 3; i++) {
      expect(await w1.write(Array.from({ length: 10 }, (_, j) => ({ k: String(i * 10 + j) })))).toBe('spool');
    }
    await w1.close();
    // pretend an earlier replay already added the first 12 of them before dying
    const { file } = await SpoolFile.open(path.join(dir, 's.spool'));
    const first = (await file.read(0, 1 << 16, 12)).records;
    await file.close();
    for (const r of first) await conn.client.xAdd('s', '*', r.f);
    await conn.client.set(`spool:ack:${first[0]?.w}`, '12');
    const w2 = await SpooledStreamWriter.open(conn, { stream: 's', dir, replayIntervalMs: 10_000 });
    closers.push(() => w2.close());
    expect(w2.stats.pending).toBe(30);
    expect(await w2.flush()).toBe(0);
    expect(w2.stats.duplicatesSkipped).toBe(12);
    expect(w2.stats.replayed).toBe(18);
    const entries = present(await conn.client.xRange('s', '-', '+'), 'the XRANGE reply');
    expect(entries.map((e) => e.message.k)).toEqual(Array.from({ length: 30 }, (_, i) => String(i)));
  });

  it('gives entries their ids itself; a writer behind another (or a clock step back) gets new ones, counted, nothing refused', async () => {
    const redis = await startRedis();
    const conn = await Connection.connect({ url: redis.url });
    closers.push(() => conn.close());
    const w = await SpooledStreamWriter.open(conn, { stream: 'ids', dir: tempDir() });
    closers.push(() => w.close());
    const before = Date.now();
    expect(await w.write([{ k: '0' }, { k: '1' }, { k: '2' }])).toBe('redis');
    const mine = present(await conn.client.xRange('ids', '-', '+'), 'the XRANGE reply');
    // the writer's clock: <ms>-<seq>, the sequence counting within the batch's millisecond
    const [ms, seq] = (mine[0]?.id ?? '').split('-').map(Number) as [number, number];
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(mine.map((e) => e.id)).toEqual([0, 1, 2].map((k) => `${ms}-${seq + k}`));
    expect(w.stats.idsMoved).toBe(0);
    // another writer an hour ahead: this one's ids are below the stream's last, Redis gives new ones
    const ahead = `${Date.now() + 3_600_000}-0`;
    await conn.client.xAdd('ids', ahead, { k: 'other' });
    expect(await w.write([{ k: '3' }, { k: '4' }])).toBe('redis');
    expect(w.stats).toMatchObject({ idsMoved: 2, reassigned: 0, direct: 5 });
    // having seen them, it goes on above them with ids of its own
    expect(await w.write([{ k: '5' }])).toBe('redis');
    expect(w.stats.idsMoved).toBe(2);
    const all = present(await conn.client.xRange('ids', '-', '+'), 'the XRANGE reply');
    expect(all.map((e) => e.message.k)).toEqual(['0', '1', '2', 'other', '3', '4', '5']);
    const last = all.at(-1)?.id ?? '';
    expect(last.split('-')[0]).toBe(ahead.split('-')[0]);
  });
});
