import fs from 'node:fs';
import type { ControlConfig } from '../../cea/control/config.js';
import { parseDevicesYaml } from '../../cea/control/config.js';
import type { HwError } from '../../hw/errors.js';
import type { I2CBus } from '../../hw/i2c.js';
import { openLinuxI2CBus, parseI2CSpec } from '../../hw/i2c.js';
import { Mcp23017Simulator } from '../../hw/mcp23017-sim.js';
import type { RelaySpec } from '../../hw/relays.js';
import { RelayBank } from '../../hw/relays.js';

/** Reads and validates the devices file; throws DeviceConfigError listing every problem. */
export function loadDevices(file: string): ControlConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the devices file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseDevicesYaml(text, file);
}

/** Opens the I2C bus a spec names (`sim`, `sim:FILE`, `N`, `linux:N`). */
export async function openBus(spec: string): Promise<I2CBus> {
  const s = parseI2CSpec(spec);
  if (s.kind === 'sim') return new Mcp23017Simulator(s.file ? { stateFile: s.file } : {});
  return openLinuxI2CBus(s.bus);
}

export function relaySpecs(cfg: ControlConfig): RelaySpec[] {
  return cfg.devices.map((d) => ({ id: d.name, output: d.output, safeOn: d.safeState === 1 }));
}

/**
 * The one-shot behind `canopy automation --safe-state` (systemd
 * ExecStopPost, the supervisor's watchdog): initialises every MCP23017 of
 * the devices file with each relay in its safe state. Needs neither Redis
 * nor the store.
 */
export async function driveSafeState(
  devicesFile: string,
  i2c: string,
): Promise<{ devices: number; failed: HwError[] }> {
  const cfg = loadDevices(devicesFile);
  const bus = await openBus(i2c);
  try {
    const { bank, failed } = await RelayBank.open(bus, relaySpecs(cfg));
    await bank.close();
    return { devices: cfg.devices.length, failed };
  } finally {
    await bus.close();
  }
}
