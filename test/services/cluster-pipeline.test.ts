import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { keySlot } from '../../src/bus/cluster/routing.js';
import { CAN_RAW, CAN_WORKER_GROUP } from '../../src/contracts/names.js';
import { startRedisCluster } from '../support/redis-cluster.js';
import { sqliteCount, spawnCli } from '../support/cli-procs.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from './pipeline/helpers.js';

describe('the pipeline on a six-node Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  it('canopy scanner → can:raw → canopy worker → store: exactly N frames stored, none twice', async () => {
    const cluster = await startRedisCluster();
    const dir = tempDir();
    const N = 20_000;
    const log = path.join(dir, 'capture.log');
    const lines: string[] = [];
    // PT100 frames of three nodes, one millisecond apart
    for (let i = 0; i < N; i++) {
      const ts = (1_700_000_000_000 + i) / 1000;
      lines.push(`(${ts.toFixed(6)}) can0 10${1 + (i % 3)}#C4090A0700`);
    }
    fs.writeFileSync(log, lines.join('\n') + '\n');
    const dbPath = path.join(dir, 'canopy.db');
    const env = {
      REDIS_CLUSTER_NODES: cluster.nodeList,
      DATABASE_URL: `sqlite:${dbPath}`,
      CANOPY_DATA_DIR: dir,
    };
    const conn = await Connection.connect({
      clusterNodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      healthCheckIntervalMs: 0,
    });
    conn.on('error', () => undefined);
    try {
      const worker = spawnCli(['worker', '--name', 'cluster-w1', '--batch', '500'], env);
      const scanner = spawnCli(['scanner', '--source', `replay:${log}`], env);
      await waitFor(
        'every frame in can:raw',
        async () => (await conn.run('XLEN', (c) => c.xLen(CAN_RAW))) === N,
        60_000,
      );
      await waitFor(
        'every frame stored',
        () => sqliteCount(dbPath, 'SELECT COUNT(*) AS n FROM can_messages') >= N,
        60_000,
      );
      await waitFor(
        'the group drained',
        async () =>
          (
            (await conn.run('XPENDING', (c) => c.sendCommand(['XPENDING', CAN_RAW, CAN_WORKER_GROUP]))) as unknown[]
          )[0] === 0,
        30_000,
      );
      scanner.kill('SIGTERM');
      worker.kill('SIGTERM');
      expect(sqliteCount(dbPath, 'SELECT COUNT(*) AS n FROM can_messages')).toBe(N);
      expect(sqliteCount(dbPath, 'SELECT COUNT(DISTINCT timestamp) AS n FROM can_messages')).toBe(N);
      // the scanner's exactly-once ack key lives in the slot of can:raw
      const acks: string[] = [];
      await conn.run('SCAN', async (c) => {
        for await (const b of c.scanIterator({ MATCH: 'spool:ack:*' })) acks.push(...b.map(String));
      });
      expect(acks.length).toBeGreaterThan(0);
      for (const k of acks) {
        expect(k.startsWith(`spool:ack:{${CAN_RAW}}:`)).toBe(true);
        expect(keySlot(k)).toBe(keySlot(CAN_RAW));
      }
    } finally {
      await conn.close();
    }
  }, 150_000);
});
