import path from 'node:path';
import { defaultConfigFile } from '../can/paths.js';
import { loadBaseConfig } from './env.js';
import { text } from './read.js';

/** What `canopy automation` takes from the environment (docs/configuration.md). */
export interface AutomationEnv {
  /** `AUTOMATION_DEVICES`, else the shipped `config/devices.yaml`. */
  devicesFile: string;
  /** `CANOPY_I2C` as given (undefined when unset: the CLI decides whether that is allowed). */
  i2cGiven: string | undefined;
  /** `CANOPY_I2C`, else `sim:$CANOPY_DATA_DIR/mcp23017-sim.json`. */
  i2c: string;
  /** `CANOPY_ALLOW_SIMULATED_RELAYS=1`: the simulated chip is accepted under systemd / NODE_ENV=production. */
  allowSimulatedRelays: boolean;
  /** Started by systemd (`INVOCATION_ID`) or `NODE_ENV=production`: the relay bus must be named. */
  production: boolean;
  /** Why {@link production} holds, for messages. */
  productionReason: string;
  /** `CANOPY_WATCHDOG_MS`: a watchdog interval when systemd gives none (ms). */
  watchdogMs: number | undefined;
  dataDir: string;
  redisUrl: string | undefined;
  databaseUrl: string;
}

export function automationEnv(env: NodeJS.ProcessEnv = process.env): AutomationEnv {
  const base = loadBaseConfig(env);
  const i2cGiven = text(env, 'CANOPY_I2C');
  const watchdog = text(env, 'CANOPY_WATCHDOG_MS');
  return {
    devicesFile: env.AUTOMATION_DEVICES || defaultConfigFile('devices.yaml'),
    i2cGiven,
    i2c: i2cGiven ?? `sim:${path.join(base.dataDir, 'mcp23017-sim.json')}`,
    allowSimulatedRelays: env.CANOPY_ALLOW_SIMULATED_RELAYS === '1',
    production: Boolean(env.INVOCATION_ID) || env.NODE_ENV === 'production',
    productionReason: env.INVOCATION_ID ? 'under systemd' : 'with NODE_ENV=production',
    watchdogMs: watchdog === undefined ? undefined : Number(watchdog),
    dataDir: base.dataDir,
    redisUrl: base.redisUrl,
    databaseUrl: base.databaseUrl,
  };
}
