import fs from 'node:fs';
import { parseDevicesYaml, type ControlConfig } from '../../cea/control/config.js';
import type { Logger } from '../../util/log.js';

/**
 * The devices file, read and checked once when the API starts (routes take
 * it from the context), or undefined with one warning when it is missing or
 * invalid: device, setpoint, schedule and rule commands are then refused,
 * and device states are learnt from their updates only.
 */
export function loadControlConfig(file: string, log: Logger): ControlConfig | undefined {
  try {
    return parseDevicesYaml(fs.readFileSync(file, 'utf8'), file);
  } catch (err) {
    log.warn(
      { err: (err as Error).message },
      'devices file unusable: device, setpoint, schedule and rule commands refused',
    );
    return undefined;
  }
}
