import { hex } from '../../hw/errors.js';
import type { I2CBus } from '../../hw/i2c.js';
import { withTransferTimeout } from '../../hw/i2c.js';
import { loadDevices, openBus } from '../../services/automation/hardware.js';
import { isSimulated } from '../../services/automation/relay-bus.js';
import { fail, ok, warn, why, type CheckResult } from './types.js';

export interface RelayCheckOptions {
  /** `CANOPY_I2C` as set (undefined: not set, the automation would use the simulated chip). */
  i2c: string | undefined;
  /** The devices file the automation uses. */
  devicesFile: string;
  /** @defaultValue opened from `i2c` — the bus to probe (tests pass a simulator). */
  bus?: I2CBus;
  /** @defaultValue 1000 — per transfer, ms. */
  timeoutMs?: number;
}

const FIX_BUS = 'set CANOPY_I2C=1 in /etc/canopy/canopy.env (the relay boards on /dev/i2c-1; another N for /dev/i2c-N)';

/**
 * Which relay bus the automation would drive, and whether every MCP23017
 * that devices.yaml uses answers on it: one read of a register per chip
 * (harmless in both IOCON.BANK layouts, never a write), one line per chip
 * naming the devices wired to it.
 */
export async function relayChecks(o: RelayCheckOptions): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const title = 'Relay bus';
  if (o.i2c === undefined && !o.bus) {
    out.push(
      warn(
        'relays.bus',
        title,
        'CANOPY_I2C is not set: the automation drives the simulated chip here and refuses to start under systemd',
        FIX_BUS,
      ),
    );
    return out;
  }
  let devices;
  try {
    devices = loadDevices(o.devicesFile).devices;
  } catch (err) {
    out.push(fail('relays.devices', 'Devices file', why(err).split('\n')[0] as string, `fix ${o.devicesFile}`));
    return out;
  }
  const spec = o.i2c ?? 'sim';
  const simulated = !o.bus && isSimulated(spec);
  if (simulated)
    out.push(warn('relays.bus', title, `CANOPY_I2C=${spec}: the simulated chip, nothing real switches`, FIX_BUS));
  else out.push(ok('relays.bus', title, o.bus ? 'given bus' : `CANOPY_I2C=${spec}`));
  let bus: I2CBus;
  try {
    bus = o.bus ? withTransferTimeout(o.bus, o.timeoutMs ?? 1000) : await openBus(spec, o.timeoutMs ?? 1000);
  } catch (err) {
    out.push(fail('relays.open', 'Relay bus open', why(err), 'enable I2C and check CANOPY_I2C'));
    return out;
  }
  try {
    const byChip = new Map<number, string[]>();
    for (const d of devices) byChip.set(d.output.address, [...(byChip.get(d.output.address) ?? []), d.name]);
    for (const [address, names] of [...byChip].sort(([a], [b]) => a - b)) {
      const id = `relays.chip.${hex(address)}`;
      const chipTitle = `MCP23017 ${hex(address)}`;
      try {
        await bus.readByte(address, 0x00); // IODIRA in both layouts
        out.push(ok(id, chipTitle, `answers (${names.join(', ')})`));
      } catch (err) {
        const code = (err as { code?: string }).code;
        out.push(
          fail(
            id,
            chipTitle,
            `does not answer${code ? ` (${code})` : ''}: ${names.join(', ')} cannot switch`,
            `check the board's power, SDA/SCL wiring and its A2..A0 address jumpers${simulated ? '' : ` (i2cdetect -y ${spec.replace(/^linux:/, '')})`}`,
          ),
        );
      }
    }
  } finally {
    if (!o.bus) await bus.close();
  }
  return out;
}
