import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import path from 'node:path';
import { createClient } from 'redis';
import { AuthError, ConfigError, ConnectionError } from '../../src/bus/errors.js';
import { silentLogger } from '../../src/bus/log.js';
import type { RedisNode } from '../../src/bus/options.js';
import { askPrimary, nodeAddress, parseReplicationInfo } from '../../src/bus/sentinel.js';
import { StreamConsumer } from '../../src/bus/streams/consumer.js';
import { Subscriber } from '../../src/bus/subscriber.js';
import { freePort } from '../../src/ops/ports.js';
import { RedisProcess } from '../../src/ops/redis-process.js';
import { register } from '../support/cleanup.js';
import { startSentinelTopology, type SentinelTopology } from '../support/redis-topology.js';
import { randomPrefix, tempDir } from '../support/tmp.js';
import { waitFor } from './helpers.js';

let topo: SentinelTopology;

beforeAll(async () => {
  topo = await startSentinelTopology();
}, 90_000);

afterAll(async () => {
  await topo?.stop();
});

const ask = (sentinels: RedisNode[], master = topo.masterName) =>
  askPrimary({ sentinels, sentinelMaster: master, connectTimeoutMs: 2000, logger: silentLogger });

async function sentinelConn(extra: Partial<Parameters<typeof Connection.connect>[0]> = {}): Promise<Connection> {
  const conn = await Connection.connect({
    url: 'redis://127.0.0.1:1', // only credentials, TLS and db are taken from the URL in Sentinel mode
    sentinels: topo.sentinelNodes,
    sentinelMaster: topo.masterName,
    healthCheckIntervalMs: 500,
    commandTimeoutMs: 3000,
    reconnectMaxMs: 1000,
    ...extra,
  });
  conn.on('error', () => undefined);
  register({ stop: () => conn.close(), killSync: () => conn.client.destroy() });
  return conn;
}

describe('topology reports (pure and single server)', () => {
  it('reads the role and connected replicas from INFO replication; formats addresses', () => {
    expect(parseReplicationInfo('# Replication\r\nrole:master\r\nconnected_slaves:2\r\n')).toEqual({
      role: 'master',
      replicas: 2,
    });
    expect(parseReplicationInfo('role:slave\r\nconnected_slaves:0\r\n')).toEqual({ role: 'slave', replicas: 0 });
    expect(parseReplicationInfo('')).toEqual({ role: 'unknown', replicas: 0 });
    expect(nodeAddress({ host: '::1', port: 26379 })).toBe('[::1]:26379');
  });

  it('a single server (REDIS_URL only) reports its URL host:port and never switches', async () => {
    const primary = topo.nodes[0] as RedisProcess;
    const conn = await Connection.connect({ url: `redis://127.0.0.1:${primary.port}`, healthCheckIntervalMs: 0 });
    expect(conn.topology).toEqual({
      mode: 'single',
      primary: `127.0.0.1:${primary.port}`,
      switches: 0,
      lastSwitchAt: null,
    });
    expect(await conn.connectedReplicas()).toBe(1);
    await conn.close();
  });
});

describe('discovering the primary through Sentinel', () => {
  it('asks the sentinels in order and skips one that is down', async () => {
    const dead = { host: '127.0.0.1', port: await freePort() };
    const primary = topo.nodes[0];
    expect(await ask(topo.sentinelNodes)).toEqual({ host: '127.0.0.1', port: primary?.port });
    expect(await ask([dead, ...topo.sentinelNodes.slice(1)])).toEqual({ host: '127.0.0.1', port: primary?.port });
  });

  it('a master name the sentinels do not monitor is a ConfigError (BUS_CONFIG) naming it', async () => {
    const err = await ask(topo.sentinelNodes, 'nosuchmaster').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('BUS_CONFIG');
    expect((err as Error).message).toContain('"nosuchmaster"');
    await expect(
      Connection.connect({ sentinels: topo.sentinelNodes, sentinelMaster: 'nosuchmaster' }),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  it('no sentinel reachable is a ConnectionError (BUS_CONNECTION)', async () => {
    const dead = [
      { host: '127.0.0.1', port: await freePort() },
      { host: '127.0.0.1', port: await freePort() },
    ];
    const err = await ask(dead).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe('BUS_CONNECTION');
  });

  it('connects to the primary the sentinels name and reports it as its topology', async () => {
    const conn = await sentinelConn();
    expect(conn.topology).toEqual({
      mode: 'sentinel',
      primary: `127.0.0.1:${topo.nodes[0]?.port}`,
      switches: 0,
      lastSwitchAt: null,
    });
    const key = `${randomPrefix()}k`;
    await conn.run('SET', (c) => c.set(key, 'v'));
    expect(await conn.run('GET', (c) => c.get(key))).toBe('v');
    expect(await conn.connectedReplicas()).toBe(1);
    await conn.close();
  });

  it("builds its client from the process's one bus class, as a single-server connection does", async () => {
    const conn = await sentinelConn();
    const direct = await Connection.connect({
      url: `redis://127.0.0.1:${topo.nodes[0]?.port}`,
      healthCheckIntervalMs: 0,
    });
    const dup = await conn.duplicate({ clientName: 'sentinel-dup' });
    const classOf = (c: Connection) => Object.getPrototypeOf(Object.getPrototypeOf(c.client)) as object;
    expect(classOf(conn)).toBe(classOf(direct));
    expect(classOf(dup)).toBe(classOf(direct));
    expect(typeof (conn.client as unknown as Record<string, unknown>)['mailbox-drain']).toBe('function');
    await Promise.all([conn.close(), direct.close(), dup.close()]);
  });
});

describe('sentinels with a password', () => {
  it('are asked with sentinelPassword; a wrong one is an AuthError that does not show it', async () => {
    const primary = topo.nodes[0] as RedisProcess;
    const guarded = await RedisProcess.start({
      dir: path.join(tempDir(), 'sentinel'),
      aof: false,
      rdb: false,
      sentinel: true,
      extraConfig: ['requirepass s3ntinel-pw', `sentinel monitor ${topo.masterName} 127.0.0.1 ${primary.port} 2`],
    });
    register({ stop: () => guarded.kill(), killSync: () => undefined });
    const node = [{ host: '127.0.0.1', port: guarded.port }];
    const q = { sentinels: node, sentinelMaster: topo.masterName, connectTimeoutMs: 2000, logger: silentLogger };
    expect(await askPrimary({ ...q, sentinelPassword: 's3ntinel-pw' })).toEqual({
      host: '127.0.0.1',
      port: primary.port,
    });
    const err = await askPrimary({ ...q, sentinelPassword: 'wrong-pw' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).code).toBe('BUS_AUTH');
    expect((err as Error).message).not.toContain('wrong-pw');
    await guarded.kill();
  });
});

describe('a switchover (SENTINEL FAILOVER): the old primary lives on as a replica', () => {
  it('a connection that reconnects to the demoted server moves to the new primary and writes there', async () => {
    const conn = await sentinelConn();
    const key = `${randomPrefix()}k`;
    const before = await topo.primary();
    await conn.run('SET', (c) => c.set(key, '1'));
    await conn.run('WAIT', (c) => c.sendCommand(['WAIT', '1', '5000']));
    await conn.run('SENTINEL FAILOVER', async () => {
      const s = createClient({ socket: { host: '127.0.0.1', port: topo.sentinels[0]?.port } });
      await s.connect();
      try {
        return await s.sendCommand(['SENTINEL', 'FAILOVER', topo.masterName]);
      } finally {
        s.destroy();
      }
    });
    const after = await topo.waitForFailover(before);
    await waitFor(() => conn.switches === 1, 'the connection switched', 30_000);
    expect(conn.topology.primary).toBe(`127.0.0.1:${after.port}`);
    await waitFor(
      async () => (await conn.run('SET', (c) => c.set(key, '2')).catch(() => null)) === 'OK',
      'a write on the new primary',
      30_000,
    );
    const direct = createClient({ socket: { host: after.host, port: after.port } });
    await direct.connect();
    expect(await direct.get(key)).toBe('2');
    direct.destroy();
    await conn.close();
  }, 90_000);
});

describe('a kill -9 of the primary', () => {
  it('a publisher/subscriber and a stream consumer carry on on the new primary', async () => {
    const p = randomPrefix();
    const conn = await sentinelConn();
    const switched: string[] = [];
    conn.on('switched', (i) => switched.push(`${i.from}>${i.to}`));
    const sub = await Subscriber.create(conn);
    register({ stop: () => sub.close(), killSync: () => undefined });
    const got: string[] = [];
    await sub.subscribe<string>(`${p}ch`, (m) => void got.push(m));
    const consumed: string[] = [];
    const consumer = await StreamConsumer.start(
      conn,
      async (entries) => {
        for (const e of entries) consumed.push(String(e.fields.n));
      },
      { stream: `${p}s`, group: 'g', consumer: 'c1', blockMs: 500, backoffMaxMs: 500 },
    );
    register({ stop: () => consumer.stop(), killSync: () => undefined });
    await conn.run('PUBLISH', (c) => c.publish(`${p}ch`, JSON.stringify('before')));
    await conn.run('XADD', (c) => c.xAdd(`${p}s`, '*', { n: '1' }));
    await waitFor(() => got.includes('before') && consumed.includes('1'), 'traffic before the failover', 20_000);
    // the group and entry 1 must be on the replica before the kill, as they would be after any WAIT
    await waitFor(async () => (await conn.connectedReplicas()) === 1, 'a replica attached', 30_000);
    await waitFor(
      async () => Number(await conn.run('WAIT', (c) => c.sendCommand(['WAIT', '1', '1000']))) === 1,
      'the replica confirming',
      30_000,
    );

    const old = await topo.killPrimary();
    const next = await topo.waitForFailover(old);
    await waitFor(() => conn.switches >= 1 && sub.connection.switches >= 1, 'connections switched', 30_000);
    expect(conn.topology.primary).toBe(`127.0.0.1:${next.port}`);
    expect(conn.topology.lastSwitchAt).not.toBeNull();
    expect(switched).toEqual([`127.0.0.1:${old.port}>127.0.0.1:${next.port}`]);

    // pub/sub: messages sent during the switch are lost by design; once re-subscribed, they flow again
    await waitFor(
      async () => {
        await conn.run('PUBLISH', (c) => c.publish(`${p}ch`, JSON.stringify('after'))).catch(() => 0);
        return got.includes('after');
      },
      'a message after the failover',
      30_000,
    );
    expect(sub.stats.resubscribes).toBeGreaterThanOrEqual(1);
    // the consumer resumes reading on the new primary
    await waitFor(
      async () => (await conn.run('XADD', (c) => c.xAdd(`${p}s`, '*', { n: '2' })).then(() => true)).valueOf(),
      'XADD on the new primary',
      30_000,
    );
    await waitFor(() => consumed.includes('2'), 'the consumer reading after the failover', 30_000);
    expect(consumed.filter((n) => n === '1')).toHaveLength(1);
    // a group missing on the new primary (it never got it) is created again from 0 and reading goes on
    await conn.run('XGROUP DESTROY', (c) => c.sendCommand(['XGROUP', 'DESTROY', `${p}s`, 'g']));
    await conn.run('XADD', (c) => c.xAdd(`${p}s`, '*', { n: '3' }));
    await waitFor(() => consumed.includes('3'), 'the consumer after its group was re-created', 30_000);
    expect(consumed.filter((n) => n === '1')).toHaveLength(2);
    await consumer.stop();
    await sub.close();
    await conn.close();
  }, 120_000);
});
