import { describe, expect, it } from 'vitest';
import { ClusterBatch, type ClusterMultiLike } from '../../src/bus/cluster/multi.js';
import { clusterAckKey, clusterDeadLetterStream, onCluster, slotTag } from '../../src/bus/cluster/names.js';
import { keySlot, routingKey, typedRoutingKey } from '../../src/bus/cluster/routing.js';
import { grantTokens } from '../../src/bus/acl.js';
import { clusterAclUser } from '../../src/contracts/acl-cluster.js';
import { consumerUser } from '../../src/contracts/acl-consumers.js';
import { rootUser, serviceUser } from '../../src/contracts/acl-users.js';
import { isShardedUserChannel } from '../../src/contracts/cluster.js';
import {
  CAN_RAW,
  CAN_RAW_DEAD,
  CAN_RAW_DEAD_CLUSTER,
  deadLetterStream,
  spoolAckKey,
} from '../../src/contracts/names.js';

describe('cluster key routing (pure)', () => {
  it('routes every raw command the code base sends by its key', () => {
    expect(routingKey(['XACK', 'can:raw', 'g', '1-0'])).toBe('can:raw');
    expect(routingKey(['XGROUP', 'CREATE', 'can:raw', 'g', '0', 'MKSTREAM'])).toBe('can:raw');
    expect(routingKey(['XGROUP', 'DELCONSUMER', 's', 'g', 'c'])).toBe('s');
    expect(routingKey(['XINFO', 'GROUPS', 'can:raw'])).toBe('can:raw');
    expect(
      routingKey(['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '10', 'BLOCK', '100', 'STREAMS', 'can:raw', '>']),
    ).toBe('can:raw');
    expect(routingKey(['xreadgroup', 'GROUP', 'g', 'STREAMS', 'c', 'STREAMS', 'k', '>'])).toBe('k');
    expect(routingKey(['XREAD', 'COUNT', '1', 'STREAMS', 'a', '0'])).toBe('a');
    expect(routingKey(['XPENDING', 's', 'g', '-', '+', '10'])).toBe('s');
    expect(routingKey(['XCLAIM', 's', 'g', 'c', '0', '1-0', 'JUSTID'])).toBe('s');
    expect(routingKey(['XAUTOCLAIM', 's', 'g', 'c', '0', '0-0'])).toBe('s');
    expect(routingKey(['XRANGE', 'user:u1:backlog', '(1-0', '+'])).toBe('user:u1:backlog');
    expect(routingKey(['XADD', 'k', 'MINID', '~', '0', '*', 'a', 'b'])).toBe('k');
    expect(routingKey(['EVALSHA', 'abc', '2', 'can:raw', 'spool:ack:{can:raw}:w', 'x'])).toBe('can:raw');
    expect(routingKey(['EVALSHA', 'abc', '0'])).toBeUndefined();
    expect(routingKey(['SPUBLISH', 'user:u1:raw', 'm'])).toBe('user:u1:raw');
    for (const keyless of [
      ['TIME'],
      ['ACL', 'SETUSER', 'x'],
      ['CLIENT', 'UNBLOCK', '7'],
      ['PUBLISH', 'c', 'm'],
      ['PING'],
    ]) {
      expect(routingKey(keyless)).toBeUndefined();
    }
  });

  it('routes typed calls by their first key (array or not); publish has none', () => {
    expect(typedRoutingKey('set', ['a', '1'])).toBe('a');
    expect(typedRoutingKey('mGet', [['b', 'c']])).toBe('b');
    expect(typedRoutingKey('sPublish', ['user:u:raw', 'x'])).toBe('user:u:raw');
    expect(typedRoutingKey('publish', ['ch', 'x'])).toBeUndefined();
  });

  it('hash tags put the companion keys in the slot of their stream', () => {
    expect(slotTag('can:raw')).toBe('{can:raw}');
    expect(slotTag('{u1}:x')).toBe('{u1}');
    expect(slotTag('a{}b')).toBe('{a{}b}');
    expect(CAN_RAW_DEAD_CLUSTER).toBe('{can:raw}:dead');
    expect(keySlot(CAN_RAW_DEAD_CLUSTER)).toBe(keySlot(CAN_RAW));
    expect(keySlot(CAN_RAW_DEAD)).not.toBe(keySlot(CAN_RAW));
    expect(keySlot(clusterAckKey('spool:ack:', CAN_RAW, 'w-1'))).toBe(keySlot(CAN_RAW));
    expect(keySlot(clusterDeadLetterStream('{u1}:s'))).toBe(keySlot('{u1}:s'));
  });

  it('plain names stay byte for byte outside a cluster', () => {
    expect(deadLetterStream(CAN_RAW)).toBe('can:raw:dead');
    expect(spoolAckKey('w')).toBe('spool:ack:w');
    expect(spoolAckKey('w', CAN_RAW, true)).toBe('spool:ack:{can:raw}:w');
    expect(onCluster({ clusterNodes: [] })).toBe(false);
    expect(onCluster({ clusterNodes: [{ host: 'h', port: 1 }] })).toBe(true);
  });

  it('knows which user channels are sharded', () => {
    expect(isShardedUserChannel('user:jamie:raw')).toBe(true);
    expect(isShardedUserChannel('user:jamie:features')).toBe(true);
    expect(isShardedUserChannel('user:jamie:predictions')).toBe(false);
    expect(isShardedUserChannel('sensor:update:raw')).toBe(false);
  });
});

describe('ClusterBatch (pure, on a recording multi)', () => {
  const recorder = () => {
    const runs: { routing: unknown; cmds: unknown[][] }[] = [];
    const factory = (routing: string | Buffer | undefined): ClusterMultiLike => {
      const run = { routing, cmds: [] as unknown[][] };
      runs.push(run);
      const m = {
        addCommand: (_k: unknown, _r: unknown, args: unknown[]) => (run.cmds.push(args), m),
        set: (k: string, v: string) => (run.cmds.push(['SET', k, v]), m),
        publish: (c: string, v: string) => (run.cmds.push(['PUBLISH', c, v]), m),
        exec: async () =>
          run.cmds.map((c) => (c[1] === 'bad' ? new Error('WRONGTYPE') : `${String(c[0])} ${String(c[1])}`)),
        execAsPipeline: async () => run.cmds.map((c) => `${String(c[0])} ${String(c[1])}`),
      };
      return m as unknown as ClusterMultiLike;
    };
    return { runs, factory };
  };

  it('groups by slot, one multi per slot routed by its key, and answers in queue order', async () => {
    const { runs, factory } = recorder();
    const b = new ClusterBatch(factory);
    b.addCommand(['XADD', 'a', '*', 'f', 'v']);
    b.queueTyped('set', ['b', '1']);
    b.queueTyped('publish', ['ch', 'x']);
    b.addCommand(['XADD', 'a', '*', 'f', 'w']);
    b.queueTyped('set', ['{a}:x', '2']);
    expect(b.groups()).toEqual([[0, 2, 3, 4], [1]]);
    const replies = await b.execAsPipeline();
    expect(replies).toEqual(['XADD a', 'SET b', 'PUBLISH ch', 'XADD a', 'SET {a}:x']);
    expect(runs.map((r) => r.routing).sort()).toEqual(['a', 'b']);
  });

  it('reports replies that are errors as a MultiErrorReply with their indices', async () => {
    const { factory } = recorder();
    const b = new ClusterBatch(factory);
    b.queueTyped('set', ['ok', '1']);
    b.queueTyped('set', ['bad', '1']);
    const err = await b.exec().catch((e: unknown) => e);
    expect((err as { errorIndexes: number[] }).errorIndexes).toEqual([1]);
    expect((err as { replies: unknown[] }).replies[0]).toBe('SET ok');
  });
});

describe('cluster ACL rules (pure)', () => {
  const tokens = (u: ReturnType<typeof serviceUser>) => u.grants.map((g) => grantTokens(u.name, g).join(' '));

  it('the worker may also write and script {can:raw}:dead, and every user may ask CLUSTER SLOTS and ASKING', () => {
    const plain = tokens(serviceUser('worker'));
    const cluster = tokens(clusterAclUser(serviceUser('worker')));
    expect(plain.join(' ')).not.toContain('{can:raw}:dead');
    expect(cluster.join(' ')).toContain('%W~{can:raw}:dead');
    expect(cluster.some((t) => t.includes('+evalsha') && t.includes('~{can:raw}:dead'))).toBe(true);
    expect(cluster).toContain('+cluster|slots +cluster|shards +asking');
  });

  it('sharded channels get SSUBSCRIBE / SPUBLISH beside SUBSCRIBE / PUBLISH, nothing else does', () => {
    const api = tokens(clusterAclUser(serviceUser('api'))).join(' | ');
    expect(api).toContain('+ssubscribe +sunsubscribe &user:*:raw');
    expect(api).not.toMatch(/ssubscribe[^|]*&user:\*:predictions/);
    const gw = tokens(clusterAclUser(serviceUser('gateway'))).join(' | ');
    expect(gw).toContain('+spublish &user:*:raw &user:*:features');
    const ml = clusterAclUser(consumerUser({ name: 'ml', users: ['jamie'] }));
    expect(tokens(ml).join(' | ')).toContain('+ssubscribe +sunsubscribe &user:jamie:raw &user:jamie:features');
    expect(clusterAclUser(rootUser())).toEqual(rootUser());
  });
});
