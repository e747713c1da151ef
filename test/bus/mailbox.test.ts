import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { TimeoutError } from '../../src/bus/errors.js';
import { Mailbox, sendAdminMessage, type AdminReply, type Via } from '../../src/bus/mailbox.js';
import { waitFor } from './helpers.js';
import { startRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';

let conn: Connection;

beforeAll(async () => {
  const redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
});
afterAll(async () => {
  await conn.close();
});

const until = async (cond: () => boolean | Promise<boolean>) => {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 10));
};

describe('mailbox', () => {
  it('a message sent while the target is down is handled once after it starts, and its reply is kept', async () => {
    const instance = `${randomPrefix()}host:svc:1`;
    const { message, receivers } = await sendAdminMessage(
      conn,
      instance,
      'set-log-level',
      { level: 'debug' },
      { replyTimeoutMs: 0 },
    );
    expect(receivers).toBe(0);
    expect(await conn.client.lLen(`admin:queue:${instance}`)).toBe(1);
    const ttl = await conn.client.ttl(`admin:queue:${instance}`);
    expect(ttl).toBeGreaterThan(3500);
    expect(ttl).toBeLessThanOrEqual(3600);

    const calls: unknown[] = [];
    const mb = new Mailbox(conn, { instance });
    mb.handle('set-log-level', (args) => {
      calls.push(args);
      return { level: args.level };
    });
    await mb.start();
    await until(() => calls.length > 0);
    await mb.drain();
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toEqual([{ level: 'debug' }]);
    expect(await conn.client.exists(`admin:queue:${instance}`)).toBe(0);
    const reply = JSON.parse(String(await conn.client.lPop(message.reply_to))) as AdminReply;
    expect(reply).toMatchObject({ id: message.id, instance, ok: true, result: { level: 'debug' } });
    await mb.close();
  });

  it('messages sent while up are handled once each although both paths deliver them', async () => {
    const instance = `${randomPrefix()}host:svc:2`;
    const mb = new Mailbox(conn, { instance, drainIntervalMs: 1 });
    const seen = new Map<string, number>();
    mb.handle('count', (_a, msg) => seen.set(msg.id, (seen.get(msg.id) ?? 0) + 1));
    const via: Record<Via, number> = { pubsub: 0, queue: 0, file: 0 };
    mb.on('handled', (_m, _r, v) => via[v]++);
    await mb.start();
    const n = 60;
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const { message, receivers } = await sendAdminMessage(conn, instance, 'count', {}, { replyTimeoutMs: 0 });
      expect(receivers).toBe(1);
      ids.push(message.id);
    }
    await until(() => seen.size === n && mb.stats.handled + mb.stats.duplicates >= n + via.queue);
    await new Promise((r) => setTimeout(r, 100));
    expect([...seen.keys()].sort()).toEqual([...ids].sort());
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    expect(mb.stats.handled).toBe(n);
    // every message taken by the drain also arrived by pub/sub and was dropped there
    expect(mb.stats.duplicates).toBe(via.queue);
    expect(via.pubsub + via.queue).toBe(n);

    // an exact second delivery of a handled message (e.g. a re-published copy) is dropped too
    const raw = JSON.stringify({ id: ids[0], command: 'count', args: {}, reply_to: 'admin:reply:x' });
    await conn.client.rPush(`admin:queue:${instance}`, raw);
    await mb.drain();
    expect(seen.get(ids[0] as string)).toBe(1);
    await mb.close();
  });

  it('sendAdminMessage prints the reply: ping answers, an unknown command is an error reply, no receiver times out', async () => {
    const instance = `${randomPrefix()}host:svc:3`;
    const mb = new Mailbox(conn, { instance });
    await mb.start();
    const pong = await sendAdminMessage(conn, instance, 'ping');
    expect(pong.reply).toMatchObject({ ok: true, instance, command: 'ping', result: { pong: true, instance } });
    const bad = await sendAdminMessage(conn, instance, 'fly');
    expect(bad.reply?.ok).toBe(false);
    expect(bad.reply?.error).toMatch(/unknown command "fly"/);
    await conn.client.publish(`admin:${instance}`, 'not json');
    await until(() => mb.stats.rejected + mb.stats.duplicates > 0);
    await mb.close();
    await expect(sendAdminMessage(conn, `${instance}-nobody`, 'ping', {}, { replyTimeoutMs: 200 })).rejects.toThrow(
      TimeoutError,
    );
  });

  it('malformed admin messages (pub/sub and queue) are counted and dropped; the mailbox keeps answering', async () => {
    const instance = `${randomPrefix()}host:svc:bad`;
    const mb = new Mailbox(conn, { instance, drainIntervalMs: 50, maxMessageBytes: 4096 });
    const calls: unknown[] = [];
    mb.handle('echo', (args) => {
      calls.push(args);
      return args;
    });
    await mb.start();
    const bad = [
      'not json',
      '{"id": "x", "command": ',
      '[1,2,3]',
      'null',
      '{"id": 7, "command": "echo"}',
      '{"id": "a1", "command": "echo", "args": [1, 2]}',
      '{"id": "a2", "command": "echo", "args": "x"}',
      '{"id": "a3", "command": "echo", "reply_to": {"x": 1}}',
      `{"id": "a4", "command": "echo", "args": ${'['.repeat(5000)}${']'.repeat(5000)}}`,
      `{"id": "a5", "command": "echo", "args": {"pad": "${'x'.repeat(10_000)}"}}`,
      '\u0000\uffff',
    ];
    for (const raw of bad) {
      await conn.client.multi().rPush(mb.queue, raw).publish(mb.channel, raw).exec();
    }
    await waitFor(() => mb.stats.rejected === bad.length, `${bad.length} rejections (got ${mb.stats.rejected})`);
    expect(calls).toEqual([]);
    const { reply } = await sendAdminMessage(conn, instance, 'echo', { n: 1 }, { replyTimeoutMs: 10_000 });
    expect(reply).toMatchObject({ ok: true, result: { n: 1 } });
    expect(calls).toEqual([{ n: 1 }]);
    expect(mb.stats).toMatchObject({ handled: 1, rejected: bad.length, failed: 0 });
    await mb.close();
  });
});
