import { list, text } from './read.js';

/** What the operator commands (`canopy backup`, `restore`, `doctor`, `acl`) take from the environment. */
export interface ToolsEnv {
  /** `CANOPY_BACKUP_DIR` — where `canopy backup` writes. */
  backupDir: string | undefined;
  /** `CANOPY_CONFIG_DIR` — the configuration directory a backup includes and a restore writes. */
  configDir: string | undefined;
  /** `CAN_INTERFACE` — the CAN interface `canopy doctor` expects up. */
  canInterface: string | undefined;
  /** `CANOPY_ACL_CONSUMERS` — consumer users `canopy acl` adds, `;` separated. */
  aclConsumers: string[];
}

export function toolsEnv(env: NodeJS.ProcessEnv = process.env): ToolsEnv {
  return {
    backupDir: text(env, 'CANOPY_BACKUP_DIR'),
    configDir: text(env, 'CANOPY_CONFIG_DIR'),
    canInterface: text(env, 'CAN_INTERFACE'),
    aclConsumers: list(env, 'CANOPY_ACL_CONSUMERS', ';'),
  };
}
