import path from 'node:path';
import { makePlainClient } from '../bus/redis-client.js';
import type { RedisNode } from '../bus/options.js';
import { RedisProcess } from './redis-process.js';

/** How the Sentinel topology is set up. */
export interface SentinelTopologyOptions {
  /** @defaultValue `mymaster` */
  masterName: string;
  /** @defaultValue 1000 — `down-after-milliseconds`: how long the primary may be silent. */
  downAfterMs: number;
  /** @defaultValue 3000 — `failover-timeout`. */
  failoverTimeoutMs: number;
  /** @defaultValue 1 — replicas of the primary. */
  replicas: number;
  /** Directory for the servers' data and configs. Required. */
  dir: string;
  /** @defaultValue none — called with each server as it starts (e.g. to register its cleanup). */
  onStart: ((rp: RedisProcess) => void) | undefined;
  /**
   * @defaultValue none (replicas connect to the primary's port) — given the primary's port, the port
   * the replicas connect to instead: a test puts a proxy in the replication link there, to hold
   * back what the replicas receive.
   */
  replicaLink: ((primaryPort: number) => Promise<number>) | undefined;
}

const DEFAULTS: Omit<SentinelTopologyOptions, 'dir'> = {
  masterName: 'mymaster',
  downAfterMs: 1000,
  failoverTimeoutMs: 3000,
  replicas: 1,
  onStart: undefined,
  replicaLink: undefined,
};

/** A primary, its replica(s) and three sentinels on loopback ports in a temp dir. */
export interface SentinelTopology {
  readonly masterName: string;
  /** Data nodes, the initial primary first. */
  readonly nodes: RedisProcess[];
  readonly sentinels: RedisProcess[];
  /** The sentinels' addresses, as `REDIS_SENTINELS` takes them. */
  readonly sentinelNodes: RedisNode[];
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` */
  readonly sentinelList: string;
  /** The primary the sentinels name now. */
  primary(): Promise<RedisNode>;
  /** The data node running at `node`'s port. */
  nodeAt(node: RedisNode): RedisProcess;
  /** kill -9 of the current primary; resolves with its address once it is gone. */
  killPrimary(): Promise<RedisNode>;
  /** Resolves with the new primary once the sentinels name another one than `from` and it says ROLE master. */
  waitForFailover(from: RedisNode, timeoutMs?: number): Promise<RedisNode>;
  stop(): Promise<void>;
}

async function ask<T>(port: number, args: string[]): Promise<T> {
  const c = makePlainClient({ socket: { host: '127.0.0.1', port, connectTimeout: 2000, reconnectStrategy: false } });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.sendCommand(args)) as T;
  } finally {
    if (c.isOpen) c.destroy();
  }
}

async function poll<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const until = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (performance.now() > until)
      throw new Error(`${what} not reached within ${timeoutMs} ms (${String(last ?? '')})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function pairs(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  else if (reply instanceof Map) for (const [k, v] of reply) out[String(k)] = String(v);
  else if (reply && typeof reply === 'object') for (const [k, v] of Object.entries(reply)) out[k] = String(v);
  return out;
}

/**
 * Starts one primary, `replicas` replicas and three sentinels (quorum 2) on
 * free loopback ports (for tests and benchmarks), and waits until every
 * sentinel sees the replica(s) and the two other sentinels, so a failover
 * can happen.
 */
export async function startSentinelTopology(
  opts: Partial<SentinelTopologyOptions> & Pick<SentinelTopologyOptions, 'dir'>,
): Promise<SentinelTopology> {
  const o: SentinelTopologyOptions = { ...DEFAULTS, ...opts };
  const root = o.dir;
  const all: RedisProcess[] = [];
  const track = (rp: RedisProcess) => {
    all.push(rp);
    o.onStart?.(rp);
    return rp;
  };
  const base = { aof: false, rdb: false };
  const primary = track(await RedisProcess.start({ ...base, dir: path.join(root, 'node0') }));
  const nodes = [primary];
  const linkPort = o.replicaLink ? await o.replicaLink(primary.port) : primary.port;
  for (let i = 1; i <= o.replicas; i++) {
    nodes.push(
      track(
        await RedisProcess.start({
          ...base,
          dir: path.join(root, `node${i}`),
          extraConfig: [`replicaof 127.0.0.1 ${linkPort}`],
        }),
      ),
    );
  }
  await poll('replicas connected', 20_000, async () => {
    const role = await ask<unknown[]>(primary.port, ['ROLE']);
    return Array.isArray(role[2]) && role[2].length === o.replicas ? true : undefined;
  });
  const sentinels: RedisProcess[] = [];
  for (let i = 0; i < 3; i++) {
    sentinels.push(
      track(
        await RedisProcess.start({
          ...base,
          sentinel: true,
          dir: path.join(root, `sentinel${i}`),
          extraConfig: [
            `sentinel monitor ${o.masterName} 127.0.0.1 ${primary.port} 2`,
            `sentinel down-after-milliseconds ${o.masterName} ${o.downAfterMs}`,
            `sentinel failover-timeout ${o.masterName} ${o.failoverTimeoutMs}`,
            `sentinel parallel-syncs ${o.masterName} 1`,
          ],
        }),
      ),
    );
  }
  for (const s of sentinels) {
    await poll(`sentinel ${s.port} sees the topology`, 30_000, async () => {
      const m = pairs(await ask(s.port, ['SENTINEL', 'MASTER', o.masterName]));
      return Number(m['num-slaves']) === o.replicas && Number(m['num-other-sentinels']) === 2 ? true : undefined;
    });
  }
  const sentinelNodes = sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
  const primaryNow = async (): Promise<RedisNode> => {
    for (const s of sentinels) {
      if (!s.running) continue;
      try {
        const r = await ask<string[]>(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', o.masterName]);
        return { host: String(r[0]), port: Number(r[1]) };
      } catch {
        // next sentinel
      }
    }
    throw new Error('no sentinel answered');
  };
  const nodeAt = (n: RedisNode): RedisProcess => {
    const rp = nodes.find((x) => x.port === n.port);
    if (!rp) throw new Error(`no data node on port ${n.port}`);
    return rp;
  };
  return {
    masterName: o.masterName,
    nodes,
    sentinels,
    sentinelNodes,
    sentinelList: sentinelNodes.map((n) => `${n.host}:${n.port}`).join(','),
    primary: primaryNow,
    nodeAt,
    async killPrimary() {
      const p = await primaryNow();
      await nodeAt(p).kill();
      return p;
    },
    waitForFailover(from, timeoutMs = 60_000) {
      return poll('failover', timeoutMs, async () => {
        const p = await primaryNow();
        if (p.port === from.port) return undefined;
        const role = await ask<unknown[]>(p.port, ['ROLE']);
        return role[0] === 'master' ? p : undefined;
      });
    },
    async stop() {
      await Promise.allSettled(all.map((rp) => rp.kill()));
    },
  };
}
