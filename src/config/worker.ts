import { ConfigError } from '../bus/errors.js';
import { positiveInt, text } from './read.js';

/** What `canopy worker` (and `canopy up` for the worker count) takes from the environment (docs/configuration.md). */
export interface WorkerEnv {
  /** `CANOPY_WORKER_NAME` — its consumer name, stable across restarts (overrides the instance). */
  name: string | undefined;
  /** `CANOPY_WORKER_INSTANCE` — the instance on this host (systemd `%i`): consumer `worker-<host>-<instance>`. */
  instance: string | undefined;
  /** `CANOPY_WORKER_SQLITE_SYNCHRONOUS` — `FULL` or `NORMAL`. */
  sqliteSynchronous: string | undefined;
  /** `CANOPY_WORKER_HANDOFF_S` — seconds before the other workers take over a stopped worker's entries. */
  handoffSeconds: number | undefined;
  /** `CANOPY_WORKERS` — how many workers `canopy up` starts (instances 0 … N-1); default 1. */
  workers: number;
}

/** What an instance may be: it becomes part of a consumer name and a heartbeat key. */
export const WORKER_INSTANCE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** The instance, checked; a {@link ConfigError} naming `what` otherwise. */
export function checkWorkerInstance(instance: string, what = 'CANOPY_WORKER_INSTANCE'): string {
  if (!WORKER_INSTANCE_PATTERN.test(instance)) {
    throw new ConfigError(
      `${what} must be 1–64 characters from A–Z a–z 0–9 _ . - (e.g. 0, 1, 2), got ${JSON.stringify(instance)}`,
    );
  }
  return instance;
}

export function workerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const instance = text(env, 'CANOPY_WORKER_INSTANCE');
  return {
    name: text(env, 'CANOPY_WORKER_NAME'),
    instance: instance === undefined ? undefined : checkWorkerInstance(instance),
    sqliteSynchronous: text(env, 'CANOPY_WORKER_SQLITE_SYNCHRONOUS'),
    handoffSeconds:
      text(env, 'CANOPY_WORKER_HANDOFF_S') === undefined ? undefined : positiveInt(env, 'CANOPY_WORKER_HANDOFF_S', 30),
    workers: positiveInt(env, 'CANOPY_WORKERS', 1),
  };
}
