import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { keySlot } from '../../src/bus/cluster/routing.js';
import { StreamConsumer } from '../../src/bus/streams/consumer.js';
import { startRedisCluster } from '../support/redis-cluster.js';
import { randomPrefix } from '../support/tmp.js';
import { connect, waitFor } from './helpers.js';

const run = promisify(execFile);

/** The port of the master that serves `slot`, from `CLUSTER NODES` of a running node. */
async function masterOf(port: number, slot: number): Promise<number> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'nodes']);
  for (const line of stdout.split('\n')) {
    const f = line.trim().split(' ');
    if (!(f[2] ?? '').includes('master') || (f[2] ?? '').includes('fail')) continue;
    for (const range of f.slice(8)) {
      const [from, to = from] = range.split('-').map(Number);
      if (slot >= from! && slot <= to!) return Number((f[1] ?? '').split('@')[0]!.split(':')[1]);
    }
  }
  throw new Error(`no master for slot ${slot} in CLUSTER NODES`);
}

describe('a master of the cluster killed with kill -9', () => {
  it('its replica takes over; the bus connection and a consumer group carry on with the slot', async () => {
    const cluster = await startRedisCluster();
    const nodes = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
    const conn = await connect('redis://127.0.0.1:6379', {
      clusterNodes: nodes,
      commandTimeoutMs: 2000,
      reconnectMaxMs: 1000,
    });
    const stream = `${randomPrefix()}raw`;
    const seen = new Set<string>();
    const consumer = await StreamConsumer.start(conn, async (b) => void b.forEach((e) => seen.add(e.fields.n!)), {
      stream,
      group: 'g',
      blockMs: 200,
      backoffBaseMs: 50,
      backoffMaxMs: 500,
    });
    try {
      for (let i = 0; i < 10; i++) await conn.run('XADD', (c) => c.xAdd(stream, '*', { n: String(i) }));
      await waitFor(() => seen.size === 10, 'entries before the kill');
      await waitFor(
        // raw WAIT, as the code base sends it: the cluster client asks every master (a typed c.wait() would not)
        async () =>
          (await conn.run('WAIT', (c) => c.sendCommand<number>(['WAIT', '1', '5000']), { timeoutMs: 10_000 })) === 1,
        'the replica has them',
      );
      const victim = await masterOf(cluster.nodes[0]!.port, keySlot(stream));
      const node = cluster.nodes.find((n) => n.port === victim)!;
      await node.kill();
      await cluster.waitReady(60_000);
      // writes to the slot succeed again once the replica is promoted and the client has rediscovered
      let after = 10;
      await waitFor(
        async () => {
          try {
            await conn.run('XADD', (c) => c.xAdd(stream, '*', { n: String(after) }));
            after++;
            return true;
          } catch {
            return false;
          }
        },
        'a write after the failover',
        60_000,
      );
      for (; after < 20; after++) await conn.run('XADD', (c) => c.xAdd(stream, '*', { n: String(after) }));
      await waitFor(() => seen.size === 20, 'entries after the failover', 60_000);
      expect([...seen].map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    } finally {
      await consumer.stop();
      await conn.close();
    }
  }, 150_000);
});
