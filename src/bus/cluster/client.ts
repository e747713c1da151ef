import { createCluster } from '@redis/client';
import type { RedisClient } from '../connection.js';
import { ConfigError, ReplyError } from '../errors.js';
import { busScripts } from '../lua-scripts.js';
import { makePlainClient } from '../redis-client.js';
import type { ConnectionOptions } from '../options.js';
import { parseRedisUrl } from '../options.js';
import { clusterMulti, type ClusterMultiLike } from './multi.js';
import { routingKey, runsOnEveryNode } from './routing.js';

/** node-redis's reconnect strategy: a delay in ms, false to stop, or an error to give up with. */
export type ReconnectStrategy = (retries: number, cause: Error) => false | Error | number;

function makeCluster(o: ConnectionOptions, reconnectStrategy: ReconnectStrategy) {
  const u = parseRedisUrl(o.url);
  return createCluster({
    rootNodes: o.clusterNodes.map((n) => ({ socket: { host: n.host, port: n.port } })),
    defaults: {
      name: o.clientName,
      ...(u.username ? { username: u.username } : {}),
      ...(u.password ? { password: u.password } : {}),
      socket: {
        connectTimeout: o.connectTimeoutMs,
        ...(u.tls ? { tls: true as const } : {}),
        reconnectStrategy,
      },
    },
    commandOptions: { timeout: o.commandTimeoutMs },
    scripts: busScripts(),
  });
}

/** The node-redis cluster client under the adapter. */
export type RedisClusterClient = ReturnType<typeof makeCluster>;

/** Connection events the adapter maps onto the cluster's own (`node-ready`, `node-reconnecting`, …). */
const EVENTS: Record<string, string[]> = {
  error: ['error', 'node-error'],
  reconnecting: ['node-reconnecting'],
  ready: ['node-ready'],
  end: ['disconnect'],
};

type Arg = string | Buffer;
type Fn = (...a: unknown[]) => unknown;

/**
 * A node-redis cluster client that answers where the code base expects a
 * single-server client (`conn.run(ctx, (c) => …)`): typed commands and the
 * bus scripts route by their key (MGET and DEL across slots are split by
 * node-redis), `sendCommand(args)` routes by {@link routingKey} (ACL SETUSER, CONFIG SET and
 * the like go to every node, replicas included; WAIT asks every master and
 * answers the least count, so it covers this client's writes on any node), `multi()`
 * groups by slot ({@link ClusterBatch}), `scanIterator` walks every master,
 * `info`/`configGet` ask the first master, `ping` every master, and
 * `clientId` answers this client's id on every master (`host:port=id,…`),
 * which `CLIENT UNBLOCK` takes back to each node. `db` must be 0: a cluster has one database.
 *
 * Returned typed as the single-server {@link RedisClient} so `Connection`
 * and every `run` callback stay unchanged; commands the code base does not
 * use on a cluster are forwarded to node-redis's cluster client as they are.
 */
export function createClusterClient(o: ConnectionOptions, reconnectStrategy: ReconnectStrategy): RedisClient {
  if (o.clusterNodes.length === 0) throw new ConfigError('createClusterClient needs at least one cluster node');
  if (o.db !== 0) throw new ConfigError(`a Redis Cluster has only database 0, got db ${o.db}`);
  const cluster = makeCluster(o, reconnectStrategy);
  const firstMaster = async () => {
    const m = cluster.masters[0];
    if (!m) throw new ReplyError('the cluster has no master (is it connected?)');
    return cluster.nodeClient(m);
  };
  const overrides: Record<string, Fn> = {
    sendCommand: async (args, options) => {
      const a = args as Arg[];
      if (String(a[0]).toUpperCase() === 'WAIT') {
        // WAIT counts the replicas holding this client's writes on one node: ask every master, keep the least
        const got = await Promise.all(
          cluster.masters.map(async (m) => Number(await (await cluster.nodeClient(m)).sendCommand(a))),
        );
        return Math.min(...got);
      }
      if (isUnblockOfNodeIds(a)) return unblockOnNodes(cluster, String(a[2]), a.slice(3));
      if (!runsOnEveryNode(a)) return cluster.sendCommand(routingKey(a), undefined, a, options as never);
      return (await sendToEveryNode(o, String(await (await firstMaster()).sendCommand(['CLUSTER', 'NODES'])), a))[0];
    },
    multi: () => clusterMulti((routing) => cluster.multi(routing) as unknown as ClusterMultiLike),
    MULTI: () => clusterMulti((routing) => cluster.multi(routing) as unknown as ClusterMultiLike),
    info: async (section) => (await firstMaster()).info(section as string | undefined),
    configGet: async (p) => (await firstMaster()).configGet(p as string),
    // Client ids are per node: the id of this client on every master, `host:port=id,…`,
    // which CLIENT UNBLOCK below sends back to each node.
    clientId: async () => {
      const ids = await Promise.all(
        cluster.masters.map(async (m) => `${m.address}=${await (await cluster.nodeClient(m)).clientId()}`),
      );
      return ids.join(',');
    },
    ping: async () => {
      await Promise.all(cluster.masters.map(async (m) => (await cluster.nodeClient(m)).ping()));
      return 'PONG';
    },
    scanIterator: (opts) => scanMasters(cluster, opts as ScanOpts),
    on: (event, listener) => {
      for (const e of EVENTS[event as string] ?? [event as string]) cluster.on(e, listener as Fn);
      return adapter;
    },
  };
  const adapter = new Proxy(cluster, {
    get(target, prop) {
      if (typeof prop === 'string' && prop in overrides) return overrides[prop];
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as Fn).bind(target) : v;
    },
  }) as unknown as RedisClient;
  return adapter;
}

/**
 * Runs a command on every node `CLUSTER NODES` lists (replicas included: the
 * cluster client only talks to masters), each on a short-lived connection
 * with the bus's credentials. Nodes marked failed or without an address are skipped.
 */
async function sendToEveryNode(o: ConnectionOptions, clusterNodes: string, args: Arg[]): Promise<unknown[]> {
  const u = parseRedisUrl(o.url);
  const addrs = clusterNodes
    .split('\n')
    .map((l) => l.trim().split(' '))
    .filter((f) => f.length > 2 && !/fail|noaddr|handshake/.test(f[2] ?? ''))
    .map((f) => (f[1] ?? '').split('@')[0] ?? '');
  return Promise.all(
    addrs.map(async (addr) => {
      const at = addr.lastIndexOf(':');
      const client = makePlainClient({
        socket: {
          host: addr.slice(0, at).replace(/^\[|\]$/g, ''),
          port: Number(addr.slice(at + 1)),
          connectTimeout: o.connectTimeoutMs,
          reconnectStrategy: false,
          ...(u.tls ? { tls: true as const } : {}),
        },
        ...(u.username ? { username: u.username } : {}),
        ...(u.password ? { password: u.password } : {}),
      });
      client.on('error', () => undefined);
      await client.connect();
      try {
        return await client.sendCommand(args);
      } finally {
        client.destroy();
      }
    }),
  );
}

/** `CLIENT UNBLOCK host:port=id,…` (an id from the adapter's `clientId`). */
function isUnblockOfNodeIds(a: Arg[]): boolean {
  return (
    String(a[0]).toUpperCase() === 'CLIENT' && String(a[1]).toUpperCase() === 'UNBLOCK' && String(a[2]).includes('=')
  );
}

/** Sends `CLIENT UNBLOCK <id>` to each node with that node's id; answers how many were unblocked. */
async function unblockOnNodes(cluster: RedisClusterClient, ids: string, rest: Arg[]): Promise<number> {
  let n = 0;
  for (const pair of ids.split(',')) {
    const at = pair.lastIndexOf('=');
    const node = cluster.masters.find((m) => m.address === pair.slice(0, at));
    if (!node) continue;
    n += Number(await (await cluster.nodeClient(node)).sendCommand(['CLIENT', 'UNBLOCK', pair.slice(at + 1), ...rest]));
  }
  return n;
}

type ScanOpts = { MATCH?: string; COUNT?: number; TYPE?: string };

/** `scanIterator` over every master in turn: batches of keys, as the single-server client yields them. */
async function* scanMasters(cluster: RedisClusterClient, opts: ScanOpts = {}): AsyncGenerator<string[]> {
  for (const m of [...cluster.masters]) {
    const node = await cluster.nodeClient(m);
    for await (const batch of node.scanIterator(opts)) yield batch;
  }
}
