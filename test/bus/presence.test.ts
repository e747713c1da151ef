import { spawn } from 'node:child_process';
import os from 'node:os';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { ConfigError } from '../../src/bus/errors.js';
import { OrphanClaimer, type ClaimedEntry } from '../../src/bus/presence-claim.js';
import { Heartbeat, listInstances, PresenceWatcher, resolveHeartbeatOptions } from '../../src/bus/presence.js';
import { StreamConsumer } from '../../src/bus/streams/consumer.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';
import { registerChild } from '../support/cleanup.js';

let redis: TestRedis;
let conn: Connection;

beforeAll(async () => {
  redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
});
afterAll(async () => {
  await conn.close();
});

describe('heartbeat options', () => {
  it('derives the real defaults: TTL 30 s, a beat every 10 s, instance host:service:pid', () => {
    const o = resolveHeartbeatOptions({ service: 'worker' });
    expect(o.ttlSeconds).toBe(30);
    expect(o.intervalMs).toBe(10_000);
    expect(o.instance).toBe(`${os.hostname()}:worker:${process.pid}`);
    // two beats may be missed before the key expires, so a live process never disappears
    expect(o.ttlSeconds * 1000 - 2 * o.intervalMs).toBeGreaterThan(0);
    expect(resolveHeartbeatOptions({ service: 'w', ttlSeconds: 3 }).intervalMs).toBe(1000);
  });

  it('rejects an interval that would let the key expire between beats', () => {
    expect(() => resolveHeartbeatOptions({ service: 'w', ttlSeconds: 1, intervalMs: 1000 })).toThrow(ConfigError);
    expect(() => resolveHeartbeatOptions({ service: '' })).toThrow(ConfigError);
  });
});

describe('presence', () => {
  it('writes heartbeat:{instance} as JSON with a TTL and lists it by SCAN; close removes it', async () => {
    const prefix = `${randomPrefix()}heartbeat:`;
    let n = 0;
    const hb = await Heartbeat.start(conn, {
      service: 'api',
      prefix,
      version: '1.2.3',
      counters: () => ({ handled: ++n }),
    });
    const raw = await conn.client.get(hb.key);
    const info = JSON.parse(String(raw)) as Record<string, unknown>;
    expect(info).toMatchObject({ service: 'api', pid: process.pid, host: os.hostname(), version: '1.2.3', handled: 1 });
    expect(Date.parse(String(info.started_at))).not.toBeNaN();
    const ttl = await conn.client.pTTL(hb.key);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
    const live = await listInstances(conn, prefix);
    expect(live.map((l) => l.instance)).toEqual([hb.instance]);
    await hb.close();
    expect(await conn.client.exists(hb.key)).toBe(0);
  });

  it('an instance killed with kill -9 disappears and its pending stream entries are claimed by a survivor', async () => {
    const p = randomPrefix();
    const stream = `${p}stream`;
    const group = 'g';
    await conn.client.xGroupCreate(stream, group, '0', { MKSTREAM: true });
    const added: string[] = [];
    for (let i = 0; i < 25; i++) added.push(await conn.client.xAdd(stream, '*', { n: String(i) }));

    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('./fixtures/presence-child.ts', import.meta.url)),
        redis.url,
        stream,
        group,
        '20',
        '1',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    registerChild(child);
    const line = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
    });
    const [word, instance, ...pendingIds] = line.split(' ');
    expect(word).toBe('ready');
    expect(pendingIds).toEqual(added.slice(0, 20));

    const watcher = new PresenceWatcher(conn, { pollMs: 100 });
    const survivor = 'survivor-1';
    const claimer = new OrphanClaimer(conn, watcher, { stream, group, consumer: survivor });
    const claimed: ClaimedEntry[] = [];
    const vanished = new Promise<string>((resolve) => watcher.on('vanished', (i) => i === instance && resolve(i)));
    const allClaimed = new Promise<void>((resolve) =>
      claimer.on('claimed', (from, _count, entries) => {
        expect(from).toBe(instance);
        claimed.push(...entries);
        if (claimed.length >= 20) resolve();
      }),
    );
    await watcher.start();
    expect(watcher.live).toContain(instance);

    child.kill('SIGKILL');
    // the child's TTL is 1 s; the real default (30 s) is the same mechanism with a longer wait
    await vanished;
    await allClaimed;
    await claimer.idle();
    expect(claimed.map((c) => c.id)).toEqual(added.slice(0, 20));
    expect(claimed[3]?.fields).toEqual({ n: '3' });
    const pending = await conn.client.xPendingRange(stream, group, '-', '+', 100);
    expect(pending).toHaveLength(20);
    expect(new Set(pending.map((e) => String(e.consumer)))).toEqual(new Set([survivor]));
    expect(claimer.claimedTotal).toBe(20);
    await claimer.close();
    await watcher.close();
  });

  it('with the bus consumer: a killed consumer’s pending entries are handled by a survivor long before the idle claim', async () => {
    const stream = `${randomPrefix()}stream`;
    await conn.client.xGroupCreate(stream, 'g', '0', { MKSTREAM: true });
    const added: string[] = [];
    for (let i = 0; i < 10; i++) added.push(await conn.client.xAdd(stream, '*', { n: String(i) }));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('./fixtures/presence-child.ts', import.meta.url)),
        redis.url,
        stream,
        'g',
        '10',
        '1',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    registerChild(child);
    const line = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
    });
    const instance = line.split(' ')[1] as string;
    const handled: string[] = [];
    const consumer = await StreamConsumer.start(
      conn,
      async (entries) => {
        handled.push(...entries.map((e) => e.id));
      },
      { stream, group: 'g', consumer: 'survivor-2', claimIdleMs: 600_000, blockMs: 200 },
    );
    const watcher = new PresenceWatcher(conn, { pollMs: 100 });
    const claimer = new OrphanClaimer(conn, watcher, {
      stream,
      group: 'g',
      consumer: 'survivor-2',
      claim: (from) => consumer.claimFrom(from, { deleteConsumer: true }),
    });
    await watcher.start();
    child.kill('SIGKILL');
    while (handled.length < 10) await new Promise((r) => setTimeout(r, 50));
    expect([...handled].sort()).toEqual([...added].sort());
    expect(claimer.claimedTotal).toBe(10);
    const consumers = (await conn.client.xInfoConsumers(stream, 'g')).map((c) => String(c.name));
    expect(consumers).not.toContain(instance);
    await claimer.close();
    await watcher.close();
    await consumer.stop();
  });

  it('the sweep takes over a dead consumer it never saw alive, and leaves live ones alone', async () => {
    const p = randomPrefix();
    const stream = `${p}stream`;
    await conn.client.xGroupCreate(stream, 'g', '0', { MKSTREAM: true });
    for (let i = 0; i < 6; i++) await conn.client.xAdd(stream, '*', { n: String(i) });
    const prefix = `${p}heartbeat:`;
    const alive = await Heartbeat.start(conn, { service: 'w', instance: 'alive', prefix });
    await conn.client.xReadGroup('g', 'alive', { key: stream, id: '>' }, { COUNT: 3 });
    await conn.client.xReadGroup('g', 'ghost', { key: stream, id: '>' }, { COUNT: 3 });
    const watcher = new PresenceWatcher(conn, { prefix, pollMs: 60_000 });
    const claimer = new OrphanClaimer(conn, watcher, { stream, group: 'g', consumer: 'me', sweepMinIdleMs: 0 });
    const froms: string[] = [];
    claimer.on('claimed', (from) => froms.push(from));
    await watcher.start();
    await claimer.idle();
    await claimer.sweep();
    expect(froms).toEqual(['ghost']);
    const pending = await conn.client.xPendingRange(stream, 'g', '-', '+', 100);
    const owners = pending.map((e) => String(e.consumer));
    expect(owners.filter((o) => o === 'alive')).toHaveLength(3);
    expect(owners.filter((o) => o === 'me')).toHaveLength(3);
    await claimer.close();
    await watcher.close();
    await alive.close();
  });
});
