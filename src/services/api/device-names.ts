import fs from 'node:fs';
import { parseDevicesYaml } from '../../cea/control/config.js';
import type { Logger } from '../../util/log.js';

/**
 * The device names of the devices file, or none (with a warning) when it is
 * missing or invalid: the API then learns devices from their updates only.
 */
export function configuredDeviceNames(file: string, log: Logger): string[] {
  try {
    return parseDevicesYaml(fs.readFileSync(file, 'utf8'), file).devices.map((d) => d.name);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'devices file unusable: device states shown at their next update');
    return [];
  }
}
