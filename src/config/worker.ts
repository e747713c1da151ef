import { text } from './read.js';

/** What `canopy worker` takes from the environment besides the common variables (docs/configuration.md). */
export interface WorkerEnv {
  /** `CANOPY_WORKER_NAME` — its consumer name, stable across restarts. */
  name: string | undefined;
  /** `CANOPY_WORKER_SQLITE_SYNCHRONOUS` — `FULL` or `NORMAL`. */
  sqliteSynchronous: string | undefined;
}

export function workerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  return { name: text(env, 'CANOPY_WORKER_NAME'), sqliteSynchronous: text(env, 'CANOPY_WORKER_SQLITE_SYNCHRONOUS') };
}
