import { ConfigError } from '../bus/errors.js';
import { apiEnv } from '../config/api.js';
/**
 * The services `canopy up` starts, in dependency order. Each entry is the
 * `canopy <command>` that runs it as its own process.
 */
export interface ServiceEntry {
  name: string;
  /** CLI arguments after `canopy`. */
  args: string[];
  /** TCP port it listens on (the api: the dashboard); `canopy up` waits for it and prints the URL. */
  port?: number;
  /** How the user chooses another port (said when the port is taken), e.g. `CANOPY_API_PORT=N`. */
  portHint?: string;
  /** CLI arguments after `canopy` run when the process dies unexpectedly, before its restart (the watchdog). */
  onCrash?: string[];
  /** Node.js options of the process (before the script), e.g. V8 memory limits. */
  nodeArgs?: string[];
}

/**
 * The worker's V8 young generation is capped at 2 MB per semi-space: it
 * allocates a batch's worth of short-lived rows each time, and the default
 * lets the heap balloon (peak RSS 173 → 146 MB at 30,000 frames/s, same
 * throughput). Its old generation is capped at 96 MB: its live heap is about
 * 22 MB, plus at most 100,000 frames held during a store outage (about
 * 340 bytes each); uncapped, V8 let it grow to 88 MB between collections
 * (peak RSS 175 → 118 MB at the maximum rate, same throughput).
 * deploy/systemd/canopy-worker*.service set the same NODE_OPTIONS (a test ties them).
 */
export const WORKER_NODE_ARGS = ['--max-semi-space-size=2', '--max-old-space-size=96'];

/**
 * Every other service's young generation is capped at 1 MB per semi-space
 * (the API's at 2 MB, for request bursts): V8's default on a 64-bit machine
 * lets an idle subscriber's RSS reach about 125 MB; capped, the same service
 * sits near 80 MB, doing the same work (measured on `canopy alerts`).
 */
export const LIGHT_NODE_ARGS = ['--max-semi-space-size=1'];
export const API_NODE_ARGS = ['--max-semi-space-size=2'];

/**
 * The relay gateway's young generation is capped at 4 MB per semi-space: it is
 * a throughput service (every relay message is decoded, checked and held until
 * Redis answers), not an idle subscriber. Measured at 5,000 relay messages/s
 * (`npm run bench -- gateway`, CPU profiles of 10 s each): garbage collection
 * took 1.9 s of the gateway's CPU with 1 MB, 1.0 s with 4 MB, 0.55 s with
 * Node's default (16 MB); the young generation costs at most 3 × 4 MB of RSS.
 */
export const GATEWAY_NODE_ARGS = ['--max-semi-space-size=4'];

/**
 * The Node options a service runs with, by its command name: `canopy up`'s
 * entries, the systemd units (a test ties them) and the benchmarks, which
 * measure each service as it is deployed.
 */
export function serviceNodeArgs(service: string): string[] {
  if (service === 'worker') return WORKER_NODE_ARGS;
  if (service === 'api') return API_NODE_ARGS;
  if (service === 'gateway') return GATEWAY_NODE_ARGS;
  return LIGHT_NODE_ARGS;
}

/**
 * glibc's malloc gives every thread that allocates (V8's helpers, libuv's pool) an arena of its own,
 * up to eight per core, and keeps what each arena freed: about 9 MB of a service process's RSS, more
 * the longer it runs. Two arenas hold the same native allocations with less left over. `canopy up`
 * sets it for its services unless MALLOC_ARENA_MAX is set already; the systemd units set the same (a
 * test ties them). Measured: see docs/benchmarks.md ("Measured between the summaries").
 */
export const MALLOC_ARENA_MAX = '2';

/** What `canopy up` adds to its services' environment `env`: the arena cap, unless `env` sets one. */
export function mallocEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.MALLOC_ARENA_MAX ? {} : { MALLOC_ARENA_MAX };
}

/** The subscriber services `canopy up` runs together in one process (`canopy group`) unless told otherwise. */
export const UP_GROUP = ['alerts', 'recorder', 'analytics'] as const;

/** Everything `canopy up --compact` runs in its one service process. */
export const UP_COMPACT = ['worker', 'scanner', 'api', 'automation', ...UP_GROUP] as const;

/**
 * The compact process: the worker's batches and the api's bursts (young generation 2 MB), everything's
 * live heap, and V8 told to favour size over speed. Measured on simulated nodes (one run each): with
 * `--optimize-for-size` RSS levelled off at about 147 MB (100 minutes), without it at about 163 MB
 * (70 minutes), both some 3 MB/h over the second half; it costs the worker about 20 % of its top
 * rate, which a small machine on a real bus does not come near.
 */
export const COMPACT_NODE_ARGS = ['--max-semi-space-size=2', '--max-old-space-size=160', '--optimize-for-size'];

/**
 * The services `canopy up` starts. `workers` (default 1): worker processes
 * sharing the group `can-worker`, instances 0 … N-1 (`canopy worker --instance i`);
 * with more than one they are named `worker-0`, `worker-1`, … in the output.
 */
export function upServices(
  opts: {
    source?: string;
    workers?: number;
    /** @defaultValue true — alerts, recorder and analytics in one process (`CANOPY_UP_GROUP=0`: one each). */
    group?: boolean;
    /**
     * @defaultValue false — every service in one process (`canopy group --compact`),
     * for a 1 GB machine: less memory, no isolation between them.
     */
    compact?: boolean;
  } = {},
): ServiceEntry[] {
  const services: ServiceEntry[] = [];
  const workers = opts.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1)
    throw new ConfigError(`workers must be an integer >= 1, got ${workers}`);
  if (opts.compact) {
    if (workers !== 1) throw new ConfigError(`--compact runs one worker; got workers ${workers}`);
    const apiPort = apiEnv().port ?? 8000;
    return [
      {
        name: 'canopy',
        args: ['group', UP_COMPACT.join(','), '--compact', '--source', opts.source ?? 'sim'],
        port: apiPort,
        portHint: 'CANOPY_API_PORT=N (e.g. CANOPY_API_PORT=8080 canopy up)',
        onCrash: ['automation', '--safe-state'],
        nodeArgs: COMPACT_NODE_ARGS,
      },
    ];
  }
  for (let i = 0; i < workers; i++) {
    services.push({
      name: workers === 1 ? 'worker' : `worker-${i}`,
      args: ['worker', '--instance', String(i)],
      nodeArgs: serviceNodeArgs('worker'),
    });
  }
  services.push({
    name: 'scanner',
    args: ['scanner', '--source', opts.source ?? 'sim'],
    nodeArgs: serviceNodeArgs('scanner'),
  });
  const apiPort = apiEnv().port ?? 8000;
  services.push({
    name: 'api',
    args: ['api', '--port', String(apiPort), '--host', '127.0.0.1'],
    port: apiPort,
    portHint: 'CANOPY_API_PORT=N (e.g. CANOPY_API_PORT=8080 canopy up)',
    nodeArgs: serviceNodeArgs('api'),
  });
  services.push({
    name: 'automation',
    args: ['automation'],
    onCrash: ['automation', '--safe-state'],
    nodeArgs: serviceNodeArgs('automation'),
  });
  if (opts.group ?? true) {
    services.push({
      name: UP_GROUP.join('+'),
      args: ['group', UP_GROUP.join(',')],
      nodeArgs: serviceNodeArgs('group'),
    });
  } else {
    for (const name of UP_GROUP) services.push({ name, args: [name], nodeArgs: serviceNodeArgs(name) });
  }
  return services;
}

/**
 * The service names the entries' heartbeats carry: a group's services one by
 * one (`alerts+recorder+analytics` beats as alerts, recorder and analytics),
 * every worker instance as `worker`.
 */
export function heartbeatServices(entries: ServiceEntry[]): string[] {
  const names = entries.flatMap((e) =>
    e.args[0] === 'group' ? (e.args[1] ?? '').split(',') : [e.args[0] === 'worker' ? 'worker' : e.name],
  );
  return [...new Set(names.filter(Boolean))];
}

/**
 * Machines with this much memory or less get `canopy up --compact` unless told
 * otherwise: every Raspberry Pi 3 and 4 up to the 4 GB model (which reports about
 * 3.7 GiB), the machines growers run Canopy on; an 8 GB Pi or a server keeps one
 * process per service.
 */
export const COMPACT_AUTO_MAX_BYTES = 4 * 1024 ** 3;

/** How `canopy up` chose between one process for everything and one per service, and why (said at start). */
export interface UpMode {
  compact: boolean;
  why: string;
}

/**
 * `--compact` / `--separate` first, then `CANOPY_UP_COMPACT` (1 or 0), else
 * automatic: compact on a machine with at most {@link COMPACT_AUTO_MAX_BYTES}
 * of memory and one worker (measured: some 230 MB in all instead of some 700 MB).
 */
export function upMode(o: {
  compact?: boolean;
  separate?: boolean;
  /** `CANOPY_UP_COMPACT`, already read as a switch (undefined when unset). */
  env?: boolean;
  totalMemBytes: number;
  workers: number;
}): UpMode {
  if (o.compact && o.separate) throw new ConfigError('--compact and --separate exclude each other');
  if (o.compact) return { compact: true, why: '--compact' };
  if (o.separate) return { compact: false, why: '--separate' };
  if (o.env !== undefined) return { compact: o.env, why: `CANOPY_UP_COMPACT=${o.env ? 1 : 0}` };
  const gib = (o.totalMemBytes / 1024 ** 3).toFixed(1);
  if (o.workers > 1) return { compact: false, why: `${o.workers} workers` };
  if (o.totalMemBytes <= COMPACT_AUTO_MAX_BYTES)
    return { compact: true, why: `this machine has ${gib} GiB of memory (--separate: one process per service)` };
  return { compact: false, why: `this machine has ${gib} GiB of memory (--compact: all in one, less memory)` };
}
