/**
 * Starting a local Redis Cluster when ports are contended: every node's port
 * and cluster-bus port (port + 10000) lie outside the kernel's ephemeral
 * range, and a node whose redis-server exits at start (its bus port taken
 * after the check) starts again on a new pair.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  clusterPortBand,
  ephemeralRange,
  RedisClusterProcess,
  RedisClusterStartError,
} from '../../src/ops/redis-cluster.js';
import { register } from '../support/cleanup.js';
import { tempDir } from '../support/tmp.js';

describe('cluster port band', () => {
  it('keeps a node port and its bus port below the usual ephemeral range', () => {
    const [first, last] = clusterPortBand([32768, 60999]);
    expect(last - first).toBeGreaterThanOrEqual(1000);
    expect(first).toBeGreaterThanOrEqual(1024);
    expect(last + 10_000).toBeLessThanOrEqual(32768);
  });

  it('goes above the range when it starts too low, and to a wide band when neither side has room', () => {
    const [first, last] = clusterPortBand([1024, 40000]);
    expect(first).toBeGreaterThan(40000);
    expect(last + 10_000).toBeLessThanOrEqual(65536);
    expect(clusterPortBand([1024, 60999])).toEqual([20_000, 55_000]);
  });

  it('reads the kernel range, and falls back to the Linux default without one', () => {
    const dir = tempDir();
    const file = path.join(dir, 'range');
    fs.writeFileSync(file, '40000\t50000\n');
    expect(ephemeralRange(file)).toEqual([40000, 50000]);
    expect(ephemeralRange(path.join(dir, 'missing'))).toEqual([32768, 60999]);
    fs.writeFileSync(file, 'garbage\n');
    expect(ephemeralRange(file)).toEqual([32768, 60999]);
  });
});

/** A listener holding `port` on loopback, as another program would. */
async function occupy(port: number): Promise<net.Server> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve());
  });
  register({ stop: () => new Promise<void>((r) => srv.close(() => r())), killSync: () => srv.close() });
  return srv;
}

describe('a node whose port pair is taken after the check', () => {
  const band = clusterPortBand(ephemeralRange());
  const blocked = band[0] + 17;
  let cluster: RedisClusterProcess | undefined;
  afterAll(async () => cluster?.stop());

  it('fails with the server’s own reason when no retry is allowed', async () => {
    await occupy(blocked + 10_000);
    const err = await RedisClusterProcess.start({
      dir: tempDir('canopy-cluster-'),
      preferredPorts: [blocked],
      nodeStartAttempts: 1,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisClusterStartError);
    expect((err as Error).message).toMatch(
      new RegExp(`exited with 1: .*Failed listening on port ${blocked + 10_000} \\(cluster\\)`),
    );
  });

  it('starts that node again on a new pair, and the cluster comes up', async () => {
    cluster = await RedisClusterProcess.start({ dir: tempDir('canopy-cluster-'), preferredPorts: [blocked] });
    const ports = cluster.nodes.map((n) => n.port);
    expect(ports).toHaveLength(6);
    expect(ports).not.toContain(blocked);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(band[0]);
      expect(p).toBeLessThan(band[1]);
    }
    expect(cluster.nodes.every((n) => n.running)).toBe(true);
  });
});
