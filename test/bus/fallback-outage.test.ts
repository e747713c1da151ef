import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendAdminMessage } from '../../src/bus/admin-send.js';
import { FabricFiles } from '../../src/bus/fallback/records.js';
import { startServiceRuntime, type ServiceRuntime } from '../../src/services/common/runtime.js';
import { createLogger } from '../../src/util/log.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';
import { connect, sleep, waitFor } from './helpers.js';

/** How long Redis stays down while the services keep working (the "a minute"). */
const OUTAGE_MS = 60_000;

let redis: TestRedis;
let fabricDir: string;
let alpha: ServiceRuntime;
let beta: ServiceRuntime;
const handled: number[] = [];

function start(service: string): Promise<ServiceRuntime> {
  return startServiceRuntime({
    service,
    instance: `h:${service}:1`,
    connection: { url: redis.url, reconnectMaxMs: 500, healthCheckIntervalMs: 500 },
    heartbeat: { ttlSeconds: 3 },
    log: createLogger(service, 'silent'),
    fabricDir,
    useRedis: true,
    janitor: { intervalMs: 500 },
    commands: {
      count: (args) => {
        handled.push(Number(args.n));
        return { n: args.n };
      },
    },
  });
}

beforeAll(async () => {
  redis = await startRedis({ aof: true });
  fabricDir = tempDir('canopy-fabric-');
  alpha = await start('alpha');
  beta = await start('beta');
});
afterAll(async () => {
  await alpha?.close();
  await beta?.close();
});

describe('fabric fallback during a Redis outage', () => {
  it('one elected process runs the identity cleanup', async () => {
    const conn = await connect(redis.url);
    await conn.client.set('identity:can-node:junk', 'not json', { EX: 600 });
    await waitFor(async () => (await conn.client.exists('identity:can-node:junk')) === 0, 'the cleanup', 30_000);
    await waitFor(() => alpha.janitor.stats.ledRounds + beta.janitor.stats.ledRounds >= 4, 'four led rounds', 30_000);
    const led = [alpha.janitor.stats.ledRounds, beta.janitor.stats.ledRounds];
    expect(led.filter((n) => n > 0)).toHaveLength(1); // the holder renews its lease; the other never leads
    expect(await conn.client.get('lease:identity-cleanup')).toBe(led[0]! > 0 ? 'h:alpha:1' : 'h:beta:1');
    expect(alpha.janitor.stats.rounds).toBeGreaterThan(1);
    expect(beta.janitor.stats.rounds).toBeGreaterThan(1);
  });

  it('heartbeats, identities and admin messages survive Redis being stopped: nothing lost, nothing twice', async () => {
    const files = new FabricFiles({ dir: fabricDir });
    const send = (n: number) =>
      sendAdminMessage(alpha.conn, 'h:alpha:1', 'count', { n }, { files, replyTimeoutMs: 0, from: 'test' });
    await alpha.registry.touch('can-node', '1', { room: 'a' });
    await send(1);
    await waitFor(() => handled.length === 1, 'message 1 via Redis');

    await redis.stop();
    await waitFor(() => !alpha.conn.isReady && !beta.conn.isReady, 'both services to notice');
    const outageStart = Date.now();
    await waitFor(
      async () => (await files.listHeartbeats()).map((l) => l.instance).join() === 'h:alpha:1,h:beta:1',
      'heartbeat files of both services',
    );
    // identities while Redis is away: a touch of a record Redis has, a new one, a replaced one
    await alpha.registry.touch('can-node', '1', { fw: 2 });
    await beta.registry.touch('can-node', '2', { room: 'b' });
    await beta.registry.write('client', 'c1', { k: 1 });
    expect(await alpha.registry.read('can-node', '2')).toMatchObject({ room: 'b', seen_count: 1 });
    // admin messages while Redis is away: queued as files (the sender has no Redis either) and handled
    for (const n of [2, 3, 4, 5]) expect((await send(n)).via).toBe('file');
    const pong = await sendAdminMessage(undefined, 'h:beta:1', 'ping', {}, { files, replyTimeoutMs: 30_000 });
    expect(pong.via).toBe('file');
    expect(pong.reply).toMatchObject({ ok: true, instance: 'h:beta:1' });
    await waitFor(() => handled.length === 5, 'messages 2–5 handled from the files', 30_000);
    // the rest of the outage: a node seen every second, a message every 5 s, heartbeats kept alive
    let touches = 0;
    let n = 5;
    while (Date.now() - outageStart < OUTAGE_MS) {
      await sleep(1000);
      await beta.registry.touch('can-node', '3', { room: 'c' });
      touches++;
      if (touches % 5 === 0) await send(++n);
      expect((await files.listHeartbeats()).length).toBe(2); // still beating to files, TTL 3 s
    }
    expect(alpha.presence.stats.fileBeats).toBeGreaterThan(10);
    const lastBefore = n + 3;
    while (n < lastBefore) await send(++n); // just before Redis returns: handled from the files, once

    await redis.restart();
    await waitFor(() => alpha.conn.isReady && beta.conn.isReady, 'reconnect', 60_000);
    const conn = await connect(redis.url);
    await waitFor(
      async () => (await conn.client.exists(['heartbeat:h:alpha:1', 'heartbeat:h:beta:1'])) === 2,
      'heartbeats back on Redis',
      30_000,
    );
    await waitFor(async () => (await files.listHeartbeats()).length === 0, 'heartbeat files removed', 30_000);
    await waitFor(async () => (await conn.client.exists('identity:client:c1')) === 1, 'identities replayed', 30_000);
    const node1 = JSON.parse(String(await conn.client.get('identity:can-node:1'))) as Record<string, unknown>;
    expect(node1).toMatchObject({ room: 'a', fw: 2, seen_count: 2 });
    expect(String(node1.first_seen) < String(node1.last_seen)).toBe(true);
    expect(JSON.parse(String(await conn.client.get('identity:can-node:2')))).toMatchObject({
      room: 'b',
      seen_count: 1,
    });
    expect(JSON.parse(String(await conn.client.get('identity:client:c1')))).toEqual({ k: 1 });
    expect(JSON.parse(String(await conn.client.get('identity:can-node:3')))).toMatchObject({
      room: 'c',
      seen_count: touches,
    });
    expect(await conn.client.ttl('identity:client:c1')).toBeGreaterThan(86_000);
    const left = fs.existsSync(path.join(fabricDir, 'identities'))
      ? fs
          .readdirSync(path.join(fabricDir, 'identities'), { recursive: true })
          .filter((f) => String(f).endsWith('.json'))
      : [];
    expect(left).toEqual([]);

    for (const m of [n + 1, n + 2]) expect((await send(m)).via).toBe('redis');
    const total = n + 2;
    await waitFor(() => handled.includes(total), `message ${total}`, 30_000);
    expect(handled).toEqual(Array.from({ length: total }, (_, i) => i + 1)); // all, in order, once
    expect(total).toBeGreaterThan(15);
    expect(await files.adminQueued('h:alpha:1')).toBe(0);
    expect(alpha.mailbox.stats.handled).toBe(total);
  }, 240_000);
});
