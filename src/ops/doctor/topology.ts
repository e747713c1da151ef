import { Connection } from '../../bus/connection.js';
import type { ConnectionOptions, RedisNode } from '../../bus/options.js';
import { fail, ok, warn, why, type CheckResult } from './types.js';

/** Which Redis topology the environment names, and how to reach its parts. */
export interface TopologyCheckOptions {
  /** `REDIS_SENTINELS`, parsed. @defaultValue `[]` */
  sentinels: RedisNode[];
  /** @defaultValue `mymaster` */
  sentinelMaster: string;
  sentinelPassword?: string;
  /** `REDIS_CLUSTER_NODES`, parsed. @defaultValue `[]` */
  clusterNodes: RedisNode[];
  /** The URL's credentials (cluster nodes are asked with them). */
  url: string;
  /** @defaultValue 3000 */
  timeoutMs: number;
}

const addr = (n: RedisNode) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`);

/** A plain connection to one node (no Sentinel or Cluster discovery of its own). */
function direct(url: string, o: TopologyCheckOptions, name: string): Promise<Connection> {
  const opts: Partial<ConnectionOptions> = {
    url,
    connectTimeoutMs: o.timeoutMs,
    commandTimeoutMs: o.timeoutMs,
    healthCheckIntervalMs: 0,
    reconnectMaxAttempts: 0,
    clientName: name,
    sentinels: [],
    clusterNodes: [],
  };
  return Connection.connect(opts);
}

/** `['k1','v1','k2','v2']` (RESP2) or a map (RESP3) → a plain object of strings. */
function pairs(reply: unknown): Record<string, string> {
  if (reply instanceof Map) return Object.fromEntries([...reply].map(([k, v]) => [String(k), String(v)]));
  if (Array.isArray(reply)) {
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
    return out;
  }
  if (reply && typeof reply === 'object')
    return Object.fromEntries(Object.entries(reply).map(([k, v]) => [k, String(v)]));
  return {};
}

function nodeUrl(base: string, n: RedisNode, password?: string): string {
  const u = new URL(base);
  u.hostname = n.host.includes(':') ? `[${n.host}]` : n.host;
  u.port = String(n.port);
  u.pathname = '';
  if (password !== undefined) {
    u.username = '';
    u.password = encodeURIComponent(password);
  }
  return u.toString();
}

/**
 * Sentinel: how many sentinels answer, what they say of the master (its
 * address, flags, replicas, quorum). Fails when fewer sentinels answer than
 * the quorum (a failover could not be agreed) or none knows the master;
 * warns when the master has no replica (a failover has nowhere to go, and
 * the scanner's WAIT-confirmed spool has nothing to confirm with).
 */
export async function sentinelChecks(o: TopologyCheckOptions): Promise<CheckResult[]> {
  const title = 'Redis Sentinel';
  const answers: Array<{ node: RedisNode; master: Record<string, string> }> = [];
  const errors: string[] = [];
  for (const node of o.sentinels) {
    let conn: Connection | undefined;
    try {
      conn = await direct(nodeUrl('redis://127.0.0.1', node, o.sentinelPassword), o, 'canopy-doctor');
      const reply = await conn.run('SENTINEL MASTER', (c) => c.sendCommand(['SENTINEL', 'MASTER', o.sentinelMaster]));
      answers.push({ node, master: pairs(reply) });
    } catch (err) {
      errors.push(`${addr(node)}: ${why(err)}`);
    } finally {
      await conn?.close().catch(() => undefined);
    }
  }
  if (answers.length === 0)
    return [
      fail(
        'redis.sentinel',
        title,
        `no sentinel knows master "${o.sentinelMaster}" (${errors.join('; ')})`,
        'check REDIS_SENTINELS and REDIS_SENTINEL_MASTER, and that the sentinels run (systemctl status redis-sentinel)',
      ),
    ];
  const m = (answers[0] as { master: Record<string, string> }).master;
  const quorum = Number(m.quorum ?? 0);
  const replicas = Number(m['num-slaves'] ?? 0);
  const where = `${m.ip ?? '?'}:${m.port ?? '?'}`;
  const flags = m.flags ?? '';
  const detail =
    `master "${o.sentinelMaster}" at ${where} (${flags}), ${replicas} replica(s), ` +
    `${answers.length} of ${o.sentinels.length} sentinels answer, quorum ${quorum}`;
  if (answers.length < quorum || /o_down|s_down/.test(flags))
    return [
      fail(
        'redis.sentinel',
        title,
        `${detail}${errors.length ? `; ${errors.join('; ')}` : ''}`,
        answers.length < quorum
          ? 'start the missing sentinels: fewer than the quorum cannot agree on a failover'
          : 'the master is down: the sentinels should fail over; check the replicas (redis-cli -p <sentinel port> SENTINEL replicas <name>)',
      ),
    ];
  if (replicas === 0)
    return [
      warn(
        'redis.sentinel',
        title,
        detail,
        'add a replica (replicaof <master> <port>): without one a failover has nowhere to go and WAIT confirms nothing',
      ),
    ];
  return [ok('redis.sentinel', title, detail)];
}

/** Cluster: `CLUSTER INFO` of the first seed that answers — state, slots, masters. */
export async function clusterChecks(o: TopologyCheckOptions): Promise<CheckResult[]> {
  const title = 'Redis Cluster';
  const errors: string[] = [];
  for (const node of o.clusterNodes) {
    let conn: Connection | undefined;
    try {
      conn = await direct(nodeUrl(o.url, node), o, 'canopy-doctor');
      const info = String(await conn.run('CLUSTER INFO', (c) => c.sendCommand(['CLUSTER', 'INFO'])));
      const f = (k: string) => new RegExp(`^${k}:(.*)$`, 'm').exec(info)?.[1]?.trim();
      const state = f('cluster_state');
      const slots = Number(f('cluster_slots_ok') ?? 0);
      const masters = Number(f('cluster_size') ?? 0);
      const known = Number(f('cluster_known_nodes') ?? 0);
      const detail = `state ${state}, ${slots} of 16384 slots ok, ${masters} master(s), ${known} node(s), asked ${addr(node)}`;
      if (state !== 'ok' || slots < 16384)
        return [
          fail(
            'redis.cluster',
            title,
            detail,
            'redis-cli --cluster check <node> shows the uncovered slots; redis-cli --cluster fix repairs them',
          ),
        ];
      if (known < masters * 2)
        return [
          warn(
            'redis.cluster',
            title,
            `${detail}: some masters have no replica`,
            'add a replica per master (redis-cli --cluster add-node <new> <existing> --cluster-slave)',
          ),
        ];
      return [ok('redis.cluster', title, detail)];
    } catch (err) {
      errors.push(`${addr(node)}: ${why(err)}`);
    } finally {
      await conn?.close().catch(() => undefined);
    }
  }
  return [
    fail(
      'redis.cluster',
      title,
      `no seed node answers (${errors.join('; ')})`,
      'check REDIS_CLUSTER_NODES and that the nodes run',
    ),
  ];
}

/** The topology checks the environment calls for: none for a single server. */
export function topologyChecks(o: TopologyCheckOptions): Promise<CheckResult[]> {
  if (o.sentinels.length > 0) return sentinelChecks(o);
  if (o.clusterNodes.length > 0) return clusterChecks(o);
  return Promise.resolve([]);
}
