import path from 'node:path';
import { loadBaseConfig } from './env.js';
import { text } from './read.js';

/** What `canopy recorder` (and `canopy acl`, which grants what it records) take from the environment. */
export interface RecorderEnv {
  /** `CANOPY_RECORD_USERS` — which users' channels to record (parsed by the recorder). */
  users: string | undefined;
  /** `CANOPY_RECORD_USER_KINDS` — which of their channels. */
  userKinds: string | undefined;
  /** `$CANOPY_DATA_DIR/recordings` */
  dir: string;
}

export function recorderEnv(env: NodeJS.ProcessEnv = process.env): RecorderEnv {
  return {
    users: text(env, 'CANOPY_RECORD_USERS'),
    userKinds: text(env, 'CANOPY_RECORD_USER_KINDS'),
    dir: path.join(loadBaseConfig(env).dataDir, 'recordings'),
  };
}
