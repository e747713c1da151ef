import { describe, expect, it } from 'vitest';
import { AuthError, ConnectionError, ReplyError, TimeoutError } from '../../src/bus/errors.js';
import { resolveConnectionOptions } from '../../src/bus/options.js';
import { RespParser, RespPipe, encodeCommand, encodeCommands, encodeXadds } from '../../src/bus/resp.js';
import { StreamProducer } from '../../src/bus/streams/producer.js';
import { FaultProxy } from '../support/proxy.js';
import { startRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';
import { connect } from './helpers.js';

describe('RESP encoding and parsing (pure)', () => {
  it('encodes commands with byte lengths (UTF-8 and binary)', () => {
    expect(encodeCommand(['SET', 'k', 'é']).toString()).toBe('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n');
    expect(encodeCommands([['PING'], ['ECHO', 'Flower Room']])).toBe(
      '*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$11\r\nFlower Room\r\n',
    );
    const bin = encodeCommands([['SET', 'k', Buffer.from([0, 13, 10])]]);
    expect(Buffer.isBuffer(bin)).toBe(true);
    expect((bin as Buffer).equals(Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\x00\r\n\r\n', 'latin1'))).toBe(
      true,
    );
  });

  it('parses every reply type, across arbitrary chunk boundaries', () => {
    const wire = Buffer.from(
      '+OK\r\n:42\r\n$5\r\nhe\r\no\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n-ERR wrong\r\n*-1\r\n',
    );
    for (let cut = 1; cut < wire.length; cut++) {
      const p = new RespParser();
      const out = [...p.push(wire.subarray(0, cut)), ...p.push(wire.subarray(cut))];
      expect(out.slice(0, 5)).toEqual(['OK', 42, 'he\r\no', null, ['a', [1]]]);
      expect(out[5]).toBeInstanceOf(ReplyError);
      expect((out[5] as ReplyError).message).toBe('ERR wrong');
      expect(out[6]).toBeNull();
    }
  });

  it('refuses a byte that starts no RESP type', () => {
    expect(() => new RespParser().push(Buffer.from('?x\r\n'))).toThrow(ConnectionError);
  });
});

describe('RespPipe on real sockets', () => {
  it('authenticates, selects the database and pipelines', async () => {
    const redis = await startRedis({ extraConfig: ['requirepass pw'] });
    const url = `redis://:pw@127.0.0.1:${redis.port}/3`;
    const pipe = new RespPipe(resolveConnectionOptions({ url }, {}));
    const k = `${randomPrefix()}k`;
    expect(
      await pipe.send(
        encodeCommands([
          ['SET', k, 'v'],
          ['GET', k],
        ]),
        2,
      ),
    ).toEqual(['OK', 'v']);
    const conn = await connect(url);
    expect(await conn.client.get(k)).toBe('v'); // same database 3
    pipe.close();
    const bad = new RespPipe(resolveConnectionOptions({ url: `redis://:nope@127.0.0.1:${redis.port}` }, {}));
    await expect(bad.send(encodeCommands([['PING']]), 1)).rejects.toBeInstanceOf(AuthError);
  });

  it('fails the batch in flight when the connection drops, and the next batch reconnects', async () => {
    const redis = await startRedis();
    const proxy = await FaultProxy.start(redis.port);
    const conn = await connect(proxy.url);
    const stream = `${randomPrefix()}raw`;
    const p = new StreamProducer(conn, { stream, lingerMs: 0 });
    expect(await p.add({ a: '1' })).toMatch(/^\d+-\d+$/);
    proxy.pause();
    const lost = p.add({ a: '2' });
    await new Promise((r) => setTimeout(r, 50));
    proxy.dropAll();
    proxy.resume();
    await expect(lost).rejects.toBeInstanceOf(ConnectionError);
    expect(await p.add({ a: '3' })).toMatch(/^\d+-\d+$/);
    expect(p.stats).toMatchObject({ written: 2, failed: 1 });
    await p.close();
  });

  it('times out a batch with no reply', async () => {
    const redis = await startRedis();
    const proxy = await FaultProxy.start(redis.port);
    const pipe = new RespPipe(resolveConnectionOptions({ url: proxy.url, commandTimeoutMs: 300 }, {}));
    expect(await pipe.send(encodeCommands([['PING']]), 1)).toEqual(['PONG']);
    proxy.pause();
    await expect(pipe.send(encodeCommands([['PING']]), 1)).rejects.toBeInstanceOf(TimeoutError);
    proxy.resume();
    expect(await pipe.send(encodeCommands([['PING']]), 1)).toEqual(['PONG']);
    pipe.close();
  });
});

describe('encodeXadds (pure)', () => {
  it('matches the generic encoder, strings and Buffers alike', () => {
    const prefix = ['XADD', 'can:raw', 'MAXLEN', '~', '1000', '*'];
    const entries = [{ id: '0x101', data: 'AA FF' }, { é: 'ü' }, {}];
    const generic = encodeCommands(entries.map((e) => [...prefix, ...Object.entries(e).flat()]));
    expect(encodeXadds(prefix, entries)).toBe(generic);
    const withBuf = [{ a: '1' }, { b: Buffer.from([1, 2]) }];
    const g2 = encodeCommands(withBuf.map((e) => [...prefix, ...Object.entries(e).flat()])) as Buffer;
    expect((encodeXadds(prefix, withBuf) as Buffer).equals(g2)).toBe(true);
  });
});
