import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { RedisProcess } from './redis-process.js';

const run = promisify(execFile);

/** A local cluster could not be started (no free port pair, `--cluster create` failed, not ok in time). */
export class RedisClusterStartError extends Error {
  readonly code = 'REDIS_CLUSTER_START';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisClusterStartError';
  }
}

/** A Redis Cluster of local redis-server processes that this program owns (tests, benchmarks). */
export interface RedisClusterProcessOptions {
  /** Parent directory; each node gets `<dir>/node-<port>`. */
  dir: string;
  /** @defaultValue 3 */
  masters: number;
  /** @defaultValue 1 — replicas per master. */
  replicasPerMaster: number;
  /** @defaultValue 2000 — `cluster-node-timeout`, milliseconds. */
  nodeTimeoutMs: number;
  /** Extra `redis.conf` lines for every node, e.g. `aclfile /path`. */
  extraConfig: string[];
  /** @defaultValue 60000 — time allowed until every node reports `cluster_state:ok`. */
  readyTimeoutMs: number;
  /**
   * @defaultValue 3 — tries per node: a node whose redis-server exits at
   * start (another program bound its port or bus port after the check) is
   * started again on a new port pair.
   */
  nodeStartAttempts: number;
  /** Client ports to try first, one per node (tests); a node falls back to a random pair when its port fails. */
  preferredPorts: number[];
}

const DEFAULTS: Omit<RedisClusterProcessOptions, 'dir'> = {
  masters: 3,
  replicasPerMaster: 1,
  nodeTimeoutMs: 2000,
  extraConfig: [],
  readyTimeoutMs: 60_000,
  nodeStartAttempts: 3,
  preferredPorts: [],
};

/** Offset of a node's cluster-bus port from its client port (fixed by Redis). */
const BUS_OFFSET = 10_000;

/** The kernel's ephemeral port range (`ip_local_port_range`), where outgoing connections take their local ports. */
export function ephemeralRange(file = '/proc/sys/net/ipv4/ip_local_port_range'): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi) && (lo as number) > 0) return [lo as number, hi as number];
  } catch {
    // not Linux: the usual default
  }
  return [32768, 60999];
}

/**
 * The client ports a node may take, [first, last): the node's port and its
 * cluster-bus port (port + 10000) both below the ephemeral range, so no
 * outgoing connection of this or another program can take either between the
 * check and redis-server's bind. When the range starts too low for that, the
 * band above the ephemeral range, or else (a tiny machine) anything from 20000.
 */
export function clusterPortBand([lo, hi]: [number, number]): [number, number] {
  const below: [number, number] = [Math.max(1024, lo - BUS_OFFSET - 5000), lo - BUS_OFFSET];
  if (below[1] - below[0] >= 1000) return below;
  const above: [number, number] = [hi + 1, Math.min(65536 - BUS_OFFSET, hi + 1 + 5000)];
  if (above[1] - above[0] >= 1000) return above;
  return [20_000, 55_000];
}

/** A TCP port in `band` whose cluster-bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>, band: [number, number]): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = band[0] + Math.floor(Math.random() * (band[1] - band[0]));
    if (taken.has(port) || taken.has(port + BUS_OFFSET)) continue;
    if ((await isFree(port)) && (await isFree(port + BUS_OFFSET))) {
      taken.add(port);
      taken.add(port + BUS_OFFSET);
      return port;
    }
  }
  throw new RedisClusterStartError('no free port pair (port, port + 10000) for a cluster node');
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Starts `masters × (1 + replicasPerMaster)` nodes with `cluster-enabled yes`
 * on loopback ports, joins them with `redis-cli --cluster create` and waits
 * until every node reports `cluster_state:ok`.
 */
export class RedisClusterProcess {
  readonly nodes: RedisProcess[];

  private constructor(nodes: RedisProcess[]) {
    this.nodes = nodes;
  }

  static async start(opts: Partial<RedisClusterProcessOptions> & { dir: string }): Promise<RedisClusterProcess> {
    const o: RedisClusterProcessOptions = { ...DEFAULTS, ...opts };
    if (!(o.masters >= 3)) throw new RedisClusterStartError('a Redis Cluster needs at least 3 masters');
    const count = o.masters * (1 + o.replicasPerMaster);
    const band = clusterPortBand(ephemeralRange());
    const taken = new Set<number>();
    const nodes: RedisProcess[] = [];
    const cluster = new RedisClusterProcess(nodes);
    const startNode = (port: number) =>
      RedisProcess.start({
        dir: path.join(o.dir, `node-${port}`),
        port,
        aof: false,
        rdb: false,
        extraConfig: [
          'cluster-enabled yes',
          'cluster-config-file nodes.conf',
          `cluster-node-timeout ${o.nodeTimeoutMs}`,
          'cluster-require-full-coverage yes',
          // replicas sync at once and report their offset every second, so they show in CLUSTER SLOTS quickly
          'repl-diskless-sync-delay 0',
          'repl-ping-replica-period 1',
          ...o.extraConfig,
        ],
      });
    try {
      for (let i = 0; i < count; i++) {
        for (let attempt = 1; ; attempt++) {
          const preferred = attempt === 1 ? o.preferredPorts[i] : undefined;
          if (preferred !== undefined) taken.add(preferred).add(preferred + BUS_OFFSET); // clusterPort marks its own
          const port = preferred ?? (await clusterPort(taken, band));
          try {
            nodes.push(await startNode(port));
            break;
          } catch (err) {
            if (attempt >= o.nodeStartAttempts) throw err;
          }
        }
      }
      const ports = nodes.map((n) => n.port);
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...ports.map((p) => `127.0.0.1:${p}`),
          '--cluster-replicas',
          String(o.replicasPerMaster),
          '--cluster-yes',
        ],
        { timeout: o.readyTimeoutMs },
      );
      await cluster.waitReady(o.readyTimeoutMs);
    } catch (err) {
      await cluster.stop();
      if (err instanceof RedisClusterStartError) throw err;
      throw new RedisClusterStartError(`starting a local Redis Cluster failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return cluster;
  }

  /** `host:port` of every node, for `REDIS_CLUSTER_NODES`. */
  get nodeList(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  /**
   * Polls every running node until all say `cluster_state:ok` and list every
   * running node, replicas included, in `CLUSTER SLOTS` (what clients discover).
   */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const cli = (port: number, ...args: string[]) =>
      run('redis-cli', ['-p', String(port), ...args], { timeout: 10_000 }).then(
        (r) => r.stdout,
        () => '',
      );
    for (;;) {
      const live = this.nodes.filter((n) => n.running);
      const states = await Promise.all(
        live.map(async (n) => {
          if (!/cluster_state:ok/.test(await cli(n.port, 'cluster', 'info'))) return false;
          const slots = await cli(n.port, 'cluster', 'slots');
          return live.every((m) => new RegExp(`^${m.port}$`, 'm').test(slots));
        }),
      );
      if (states.every(Boolean)) return;
      if (performance.now() > deadline) throw new RedisClusterStartError(`cluster not ok after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** SIGKILL of every node. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.kill()));
  }

  /** Synchronous kill, for process exit. */
  killSync(): void {
    for (const n of this.nodes) {
      if (n.pid && n.running) {
        try {
          process.kill(n.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}
