import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterChecks, sentinelChecks, topologyChecks } from '../../src/ops/doctor/topology.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { startSentinelTopology, type SentinelTopology } from '../support/redis-topology.js';
import { freePort } from '../../src/ops/ports.js';
import path from 'node:path';
import { externalTopology } from '../../src/cli/commands/up.js';
import type { DoctorReport } from '../../src/ops/doctor/index.js';
import { packageRoot } from '../../src/services/api/options.js';
import { spawnSync } from '../support/run-sync.js';
import { tempDir } from '../support/tmp.js';

const CLI = path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

const base = { sentinelMaster: 'mymaster', url: 'redis://127.0.0.1', timeoutMs: 3000, sentinels: [], clusterNodes: [] };

describe('canopy doctor: the Redis topology', () => {
  let topo: SentinelTopology;
  let cluster: TestRedisCluster;
  beforeAll(async () => {
    [topo, cluster] = await Promise.all([startSentinelTopology(), startRedisCluster()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([topo?.stop(), cluster?.stop()]);
  });

  it('a single server needs no topology check', async () => {
    expect(await topologyChecks(base)).toEqual([]);
  });

  it('Sentinel: the master, its replica and the sentinels answering against the quorum; one sentinel down is still ok', async () => {
    const [r] = await sentinelChecks({ ...base, sentinels: topo.sentinelNodes });
    expect(r?.status, r?.detail).toBe('ok');
    expect(r?.detail).toMatch(
      /master "mymaster" at 127\.0\.0\.1:\d+ \(master\), 1 replica\(s\), 3 of 3 sentinels answer, quorum 2/,
    );
    const gone = { host: '127.0.0.1', port: await freePort() };
    const [r2] = await sentinelChecks({ ...base, sentinels: [...topo.sentinelNodes, gone] });
    expect(r2?.status).toBe('ok');
    expect(r2?.detail).toMatch(/3 of 4 sentinels answer/);
  });

  it('Sentinel: a master name no sentinel knows, or fewer sentinels than the quorum, is a failure with a fix', async () => {
    const [r] = await sentinelChecks({ ...base, sentinels: topo.sentinelNodes, sentinelMaster: 'nope' });
    expect(r?.status).toBe('fail');
    expect(r?.detail).toMatch(/no sentinel knows master "nope"/);
    expect(r?.fix).toMatch(/REDIS_SENTINEL_MASTER/);
    const [r2] = await sentinelChecks({ ...base, sentinels: topo.sentinelNodes.slice(0, 1) });
    expect(r2?.status).toBe('fail');
    expect(r2?.fix).toMatch(/quorum/);
  });

  it('Cluster: state, slots, masters and replicas; no seed answering is a failure', async () => {
    const seeds = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
    const [r] = await clusterChecks({ ...base, clusterNodes: seeds.slice(0, 2) });
    expect(r?.status, r?.detail).toBe('ok');
    expect(r?.detail).toMatch(/state ok, 16384 of 16384 slots ok, 3 master\(s\), 6 node\(s\)/);
    const [r2] = await clusterChecks({ ...base, clusterNodes: [{ host: '127.0.0.1', port: await freePort() }] });
    expect(r2?.status).toBe('fail');
    expect(r2?.detail).toMatch(/no seed node answers/);
  });

  it('canopy doctor with REDIS_SENTINELS alone finds the primary through the sentinels and reports the topology', async () => {
    const r = spawnSync(process.execPath, [CLI, 'doctor', '--expect', 'none', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, REDIS_URL: '', REDIS_SENTINELS: topo.sentinelList, CANOPY_DATA_DIR: tempDir() },
    });
    const report = JSON.parse(r.stdout) as DoctorReport;
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    expect(byId['redis.reachable']?.status, r.stdout).toBe('ok');
    expect(byId['redis.sentinel']?.status).toBe('ok');
    const primary = await topo.primary();
    expect(byId['redis.sentinel']?.detail).toContain(`${primary.host}:${primary.port}`);
  });

  it('canopy up starts no Redis of its own when the environment names Sentinels or a Cluster', () => {
    expect(externalTopology({})).toBe(false);
    expect(externalTopology({ REDIS_SENTINELS: 'a:1' })).toBe(true);
    expect(externalTopology({ REDIS_CLUSTER_NODES: 'a:1' })).toBe(true);
  });
});
