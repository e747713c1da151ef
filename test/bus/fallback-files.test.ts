import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AdminMessage } from '../../src/bus/admin-message.js';
import { sendAdminMessage } from '../../src/bus/admin-send.js';
import { FabricFiles } from '../../src/bus/fallback/records.js';
import { tempDir } from '../support/tmp.js';

function clock(start = Date.parse('2026-01-01T00:00:00Z')) {
  const c = { t: start, now: () => c.t };
  return c;
}

function message(id: string, ttlMs = 60_000): AdminMessage {
  return {
    id,
    command: 'ping',
    args: {},
    from: 'test',
    sent_at: new Date().toISOString(),
    expires_at: new Date(Date.now() + ttlMs).toISOString(),
    reply_to: `admin:reply:${id}`,
  };
}

describe('fabric fallback files', () => {
  it('heartbeat files follow the layout, are written atomically and are invisible once expired', async () => {
    const c = clock();
    const files = new FabricFiles({ dir: tempDir(), now: c.now });
    const info = {
      service: 'worker',
      instance: 'pi:worker:42',
      pid: 42,
      host: 'pi',
      version: '1',
      started_at: 'x',
      updated_at: 'y',
    };
    await files.writeHeartbeat(info, 30_000);
    const dir = path.join(files.dir, 'heartbeats');
    expect(fs.readdirSync(dir)).toEqual(['pi%3Aworker%3A42.json']); // no temporary file left behind
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'pi%3Aworker%3A42.json'), 'utf8')) as {
      expires_at: string;
    };
    expect(onDisk.expires_at).toBe('2026-01-01T00:00:30.000Z');
    expect((await files.listHeartbeats()).map((l) => [l.instance, l.ttlMs, l.source])).toEqual([
      ['pi:worker:42', 30_000, 'file'],
    ]);
    c.t += 30_001;
    expect(await files.listHeartbeats()).toEqual([]); // the file is still there, the reader honours the TTL
    expect(fs.existsSync(path.join(dir, 'pi%3Aworker%3A42.json'))).toBe(true);
    expect(await files.sweep()).toBe(1);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('identity touches merge like the Redis script and expire for readers', async () => {
    const c = clock();
    const files = new FabricFiles({ dir: tempDir(), now: c.now });
    expect(await files.touchIdentity('can-node', '1', { room: 'a' }, 60, new Date(c.t))).toBeNull();
    c.t += 1000;
    const prev = await files.touchIdentity('can-node', '1', { fw: 2 }, 60, new Date(c.t));
    expect(prev).toMatchObject({ room: 'a', seen_count: 1 });
    const rec = await files.readIdentity('can-node', '1');
    expect(rec?.data).toEqual({
      room: 'a',
      fw: 2,
      first_seen: '2026-01-01T00:00:00.000Z',
      last_seen: '2026-01-01T00:00:01.000Z',
      seen_count: 2,
    });
    expect(rec?.op).toBe('touch');
    expect(rec?.fields).toEqual({ room: 'a', fw: 2 });
    await files.writeIdentity('client', 'a/b..c', { x: 1 }, 10);
    expect((await files.listIdentities('client')).map((e) => e.id)).toEqual(['a/b..c']);
    c.t += 10_001;
    expect(await files.listIdentities('client')).toEqual([]);
    expect(await files.readIdentity('client', 'a/b..c')).toBeNull();
    expect(await files.readIdentity('can-node', '1')).not.toBeNull();
  });

  it('each queued admin message is claimed by exactly one of several concurrent takers, in order', async () => {
    const dir = tempDir();
    const writer = new FabricFiles({ dir });
    const ids = Array.from({ length: 40 }, (_, i) => `m${String(i).padStart(2, '0')}`);
    for (const id of ids) await writer.enqueueAdmin('host:svc:1', message(id));
    const takers = [new FabricFiles({ dir }), new FabricFiles({ dir }), new FabricFiles({ dir })];
    const got = await Promise.all(
      takers.map(async (f) => {
        const mine: string[] = [];
        for await (const c of f.takeAdmin('host:svc:1', 65536)) {
          mine.push(c.value!.id);
          await c.done();
        }
        return mine;
      }),
    );
    const all = got.flat();
    expect(all.sort()).toEqual(ids);
    for (const mine of got) expect(mine).toEqual([...mine].sort()); // each taker sees them oldest first
    expect(await writer.adminQueued('host:svc:1')).toBe(0);
  });

  it('a claim whose taker died is given back by the sweep; a malformed file is taken with value null', async () => {
    const c = clock();
    const dir = tempDir();
    const files = new FabricFiles({ dir, now: c.now, staleClaimMs: 5000 });
    await files.enqueueAdmin('i', message('lost'));
    for await (const claimed of files.takeAdmin('i', 65536)) expect(claimed.value?.id).toBe('lost'); // never done()
    expect(await files.adminQueued('i')).toBe(0);
    c.t += 5001;
    await files.sweep();
    expect(await files.adminQueued('i')).toBe(1);
    fs.writeFileSync(path.join(files.adminDir('i'), '000000000000000-000000-1.json'), '{"id": 5}');
    const taken: (string | null)[] = [];
    for await (const claimed of files.takeAdmin('i', 65536)) {
      taken.push(claimed.value?.id ?? null);
      await claimed.done();
    }
    expect(taken).toEqual([null, 'lost']);
  });

  it('sendAdminMessage without Redis queues a file and waits for the reply file', async () => {
    const files = new FabricFiles({ dir: tempDir() });
    const sent = sendAdminMessage(undefined, 'pi:alerts:7', 'ping', { n: 1 }, { files, replyTimeoutMs: 20_000 });
    let msg: AdminMessage | null = null;
    while (!msg) {
      for await (const c of files.takeAdmin('pi:alerts:7', 65536)) {
        msg = c.value;
        await c.done();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(msg.args).toEqual({ n: 1 });
    await files.writeReply(
      { id: msg.id, instance: 'pi:alerts:7', command: 'ping', ok: true, result: 'pong', handled_at: 'now' },
      60,
    );
    const { reply, via } = await sent;
    expect(via).toBe('file');
    expect(reply?.result).toBe('pong');
    expect(await files.takeReply(msg.id)).toBeNull(); // read once
  });
});
