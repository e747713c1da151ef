import type { PipelineConfigOptions } from '../cea/config.js';
import { text } from './read.js';

/**
 * The decoding files from the environment: `CANOPY_DBC`, `CANOPY_NODES`,
 * `CANOPY_SENSORS` (each optional; the shipped files in config/ otherwise).
 * The domain (src/cea) takes these paths as options and reads no environment.
 */
export function pipelinePathsEnv(env: NodeJS.ProcessEnv = process.env): Partial<PipelineConfigOptions> {
  const dbcPath = text(env, 'CANOPY_DBC');
  const nodesPath = text(env, 'CANOPY_NODES');
  const sensorsPath = text(env, 'CANOPY_SENSORS');
  return {
    ...(dbcPath ? { dbcPath } : {}),
    ...(nodesPath ? { nodesPath } : {}),
    ...(sensorsPath ? { sensorsPath } : {}),
  };
}
