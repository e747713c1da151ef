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
 * throughput). deploy/systemd/canopy-worker.service sets the same NODE_OPTIONS.
 */
export const WORKER_NODE_ARGS = ['--max-semi-space-size=2'];

/**
 * The services `canopy up` starts. `workers` (default 1): worker processes
 * sharing the group `can-worker`, instances 0 … N-1 (`canopy worker --instance i`);
 * with more than one they are named `worker-0`, `worker-1`, … in the output.
 */
export function upServices(opts: { source?: string; workers?: number } = {}): ServiceEntry[] {
  const services: ServiceEntry[] = [];
  const workers = opts.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1)
    throw new ConfigError(`workers must be an integer >= 1, got ${workers}`);
  for (let i = 0; i < workers; i++) {
    services.push({
      name: workers === 1 ? 'worker' : `worker-${i}`,
      args: ['worker', '--instance', String(i)],
      nodeArgs: WORKER_NODE_ARGS,
    });
  }
  services.push({ name: 'scanner', args: ['scanner', '--source', opts.source ?? 'sim'] });
  const apiPort = apiEnv().port ?? 8000;
  services.push({
    name: 'api',
    args: ['api', '--port', String(apiPort), '--host', '127.0.0.1'],
    port: apiPort,
    portHint: 'CANOPY_API_PORT=N (e.g. CANOPY_API_PORT=8080 canopy up)',
  });
  services.push({ name: 'automation', args: ['automation'], onCrash: ['automation', '--safe-state'] });
  services.push({ name: 'alerts', args: ['alerts'] });
  services.push({ name: 'recorder', args: ['recorder'] });
  services.push({ name: 'analytics', args: ['analytics'] });
  return services;
}
