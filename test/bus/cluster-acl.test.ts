import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePassword, renderAclFile, setUserCommands } from '../../src/bus/acl.js';
import type { Connection } from '../../src/bus/connection.js';
import type { RedisNode } from '../../src/bus/options.js';
import { SpooledStreamWriter } from '../../src/bus/spooled-stream.js';
import { StreamConsumer } from '../../src/bus/streams/consumer.js';
import { UserChannels } from '../../src/client/channels.js';
import { aclPasswordEnvName } from '../../src/config/redis.js';
import { clusterAclUser } from '../../src/contracts/acl-cluster.js';
import { consumerUser } from '../../src/contracts/acl-consumers.js';
import { canopyUsers } from '../../src/contracts/acl-users.js';
import { CAN_RAW, CAN_RAW_DEAD_CLUSTER, CAN_WORKER_GROUP } from '../../src/contracts/names.js';
import { UserCodec, userChannel, type RawMessage } from '../../src/contracts/user-channels.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { tempDir } from '../support/tmp.js';
import { connect, waitFor } from './helpers.js';

let cluster: TestRedisCluster;
let nodes: RedisNode[];
let conn: Connection;

beforeAll(async () => {
  cluster = await startRedisCluster();
  nodes = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  conn = await connect('redis://127.0.0.1:6379', { clusterNodes: nodes });
}, 90_000);

afterAll(async () => {
  await conn.close();
});

describe('canopy acl rules on the cluster', () => {
  const user = 'jamie';
  const users = [...canopyUsers(), consumerUser({ name: 'ml', users: [user] })].map(clusterAclUser);
  const secrets = new Map(users.map((u) => [u.name, { password: generatePassword() }]));
  const urlOf = (name: string) => `redis://${name}:${secrets.get(name)!.password}@127.0.0.1:6379`;
  const as = (name: string) => connect(urlOf(name), { clusterNodes: nodes });

  beforeAll(async () => {
    // the way `canopy acl --apply` does it: ACL SETUSER through the cluster client reaches every node
    for (const argv of setUserCommands(users, secrets)) await conn.run('ACL SETUSER', (c) => c.sendCommand(argv));
  });

  it('canopy acl --apply with REDIS_CLUSTER_NODES writes the cluster rules on every node', async () => {
    const run = promisify(execFile);
    const dir = tempDir();
    await run(process.execPath, [path.resolve('dist/src/cli/main.js'), 'acl', '--apply'], {
      env: {
        ...process.env,
        // the same passwords as the users above, so the other tests keep logging in
        ...Object.fromEntries([...secrets].map(([name, s]) => [aclPasswordEnvName(name), s.password])),
        REDIS_CLUSTER_NODES: cluster.nodeList,
        CANOPY_DATA_DIR: dir,
        LOG_LEVEL: 'warn',
      },
      timeout: 60_000,
    });
    for (const n of cluster.nodes) {
      const { stdout } = await run('redis-cli', ['-p', String(n.port), 'ACL', 'GETUSER', 'canopy-worker']);
      expect(stdout).toContain('{can:raw}:dead');
      expect(stdout).toContain('+cluster|slots');
    }
  });

  it('every node, replicas included, holds every user', async () => {
    const run = promisify(execFile);
    for (const n of cluster.nodes) {
      const { stdout } = await run('redis-cli', ['-p', String(n.port), 'ACL', 'USERS']);
      for (const u of users) expect(stdout.split('\n')).toContain(u.name);
    }
    expect(renderAclFile(users, secrets)).toContain(CAN_RAW_DEAD_CLUSTER);
  });

  it('scanner, worker, gateway and consumer users run their bus work on the cluster', async () => {
    const scanner = await as('canopy-scanner');
    const w = await SpooledStreamWriter.open(scanner, { stream: CAN_RAW, dir: tempDir(), trim: 'none' });
    for (let i = 0; i < 10; i++) expect(await w.write([{ id: '0x101', data: 'AA', seq: String(i) }])).toBe('redis');
    await w.close();

    const worker = await as('canopy-worker');
    const seen: string[] = [];
    const consumer = await StreamConsumer.start(
      worker,
      async (batch) => {
        if (batch.some((e) => e.fields.seq === '3'))
          return { deadLetter: batch.filter((e) => e.fields.seq === '3').map((e) => ({ id: e.id, reason: 'test' })) };
        seen.push(...batch.map((e) => e.fields.seq!));
        return undefined;
      },
      { stream: CAN_RAW, group: CAN_WORKER_GROUP, blockMs: 200 },
    );
    try {
      await waitFor(() => consumer.stats.deadLettered === 1, 'the dead letter');
      expect(await conn.run('XLEN', (c) => c.xLen(CAN_RAW_DEAD_CLUSTER))).toBe(1);
    } finally {
      await consumer.stop();
    }

    const ml = await UserChannels.connect({
      redis: { url: urlOf('consumer-ml'), clusterNodes: nodes, healthCheckIntervalMs: 0 },
    });
    const gateway = await as('canopy-gateway');
    try {
      const got: RawMessage['timestamp'][] = [];
      await ml.subscribe(user, 'raw', (m) => void got.push(m.timestamp));
      const payload = new UserCodec().encode({ type: 'raw', timestamp: 7, channels: { t: 1 } }, 'msgpack') as Buffer;
      await waitFor(async () => {
        await gateway.run('SPUBLISH', (c) => c.sPublish(userChannel(user, 'raw'), payload));
        return got.length > 0;
      }, 'a sharded message to the consumer');
      expect(got[0]).toBe(7);
    } finally {
      await ml.close();
    }
  });
});
