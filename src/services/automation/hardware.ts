import fs from 'node:fs';
import type { ControlConfig } from '../../cea/control/config.js';
import { parseDevicesYaml } from '../../cea/control/config.js';
import type { HwError } from '../../hw/errors.js';
import type { I2CBus } from '../../hw/i2c.js';
import { openLinuxI2CBus, parseI2CSpec, withTransferTimeout } from '../../hw/i2c.js';
import { Mcp23017Simulator } from '../../hw/mcp23017-sim.js';
import type { RelaySpec } from '../../hw/relays.js';
import { RelayBank } from '../../hw/relays.js';

/** Reads and validates the devices file; throws DeviceConfigError listing every problem. */
export function loadDevices(file: string): ControlConfig {
  return loadDevicesWithText(file).cfg;
}

/** {@link loadDevices}, also returning the text that loaded (kept as the last good configuration). */
export function loadDevicesWithText(file: string): { cfg: ControlConfig; text: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the devices file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { cfg: parseDevicesYaml(text, file), text };
}

/** Opens the I2C bus a spec names (`sim`, `sim:FILE`, `N`, `linux:N`), every transfer with a deadline. */
export async function openBus(spec: string, timeoutMs = 1000): Promise<I2CBus> {
  const s = parseI2CSpec(spec);
  if (s.kind === 'sim')
    return withTransferTimeout(new Mcp23017Simulator(s.file ? { stateFile: s.file } : {}), timeoutMs);
  return withTransferTimeout(await openLinuxI2CBus(s.bus), timeoutMs);
}

export function relaySpecs(cfg: ControlConfig): RelaySpec[] {
  return cfg.devices.map((d) => ({ id: d.name, output: d.output, safeOn: d.safeState === 1 }));
}

/**
 * The one-shot behind `canopy automation --safe-state` (systemd
 * ExecStopPost, the supervisor's watchdog): initialises every MCP23017 of
 * the devices file with each relay in its safe state. Needs neither Redis
 * nor the store. When the devices file no longer loads (edited and broken
 * since), the last configuration that loaded (`lastGoodFile`, kept by the
 * automation at each start) is used instead and `fallback` says why.
 */
export async function driveSafeState(
  devicesFile: string,
  i2c: string,
  opts: { lastGoodFile?: string; i2cTimeoutMs?: number } = {},
): Promise<{ devices: number; failed: HwError[]; fallback?: string }> {
  let cfg: ControlConfig;
  let fallback: string | undefined;
  try {
    cfg = loadDevices(devicesFile);
  } catch (err) {
    if (!opts.lastGoodFile || !fs.existsSync(opts.lastGoodFile)) throw err;
    cfg = loadDevices(opts.lastGoodFile);
    fallback = `${(err as Error).message.split('\n')[0]}; used the last good configuration ${opts.lastGoodFile}`;
  }
  const bus = await openBus(i2c, opts.i2cTimeoutMs);
  try {
    const { bank, failed } = await RelayBank.open(bus, relaySpecs(cfg));
    await bank.close();
    return { devices: cfg.devices.length, failed, ...(fallback ? { fallback } : {}) };
  } finally {
    await bus.close();
  }
}
