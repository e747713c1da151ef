import fs from 'node:fs';
import { withDeadline } from '../bus/deadline.js';
import { HwError, hex } from './errors.js';

/**
 * The smallest I2C bus a register-level driver needs: SMBus byte reads and
 * writes of one register of one 7-bit device. The Linux implementation
 * ({@link openLinuxI2CBus}) and the simulator (`Mcp23017Simulator`) both
 * implement it, so drivers never know which one they talk to.
 */
export interface I2CBus {
  /** Reads one register; rejects with an error carrying an errno `code` (EIO, ENXIO, …) when the transfer fails. */
  readByte(address: number, register: number): Promise<number>;
  /** Writes one register. */
  writeByte(address: number, register: number, value: number): Promise<void>;
  close(): Promise<void>;
}

/** Where the outputs are: `linux:N` (/dev/i2c-N), `sim` (in memory) or `sim:FILE` (registers kept in FILE). */
export type I2CSpec = { kind: 'linux'; bus: number } | { kind: 'sim'; file?: string };

/** Parses `I2C_BUS`-style specs: `1`, `linux:1`, `sim`, `sim:/var/lib/canopy/mcp.json`. */
export function parseI2CSpec(spec: string): I2CSpec {
  const s = spec.trim();
  if (s === 'sim') return { kind: 'sim' };
  if (s.startsWith('sim:')) {
    const file = s.slice(4);
    if (!file) throw new HwError('HW_CONFIG', 'I2C bus spec "sim:" needs a file path after the colon');
    return { kind: 'sim', file };
  }
  const n = s.startsWith('linux:') ? s.slice(6) : s;
  if (/^\d+$/.test(n)) return { kind: 'linux', bus: Number(n) };
  throw new HwError('HW_CONFIG', `I2C bus spec must be a bus number, linux:N, sim or sim:FILE; got "${spec}"`);
}

interface PromisifiedBus {
  readByte(address: number, command: number): Promise<number>;
  writeByte(address: number, command: number, byte: number): Promise<void>;
  close(): Promise<void>;
}
interface I2cBusModule {
  openPromisified(busNumber: number): Promise<PromisifiedBus>;
}

/** Opens /dev/i2c-N through the `i2c-bus` native addon. */
export async function openLinuxI2CBus(busNumber: number): Promise<I2CBus> {
  const dev = `/dev/i2c-${busNumber}`;
  if (!fs.existsSync(dev)) {
    throw new HwError(
      'HW_UNAVAILABLE',
      `${dev} does not exist: enable I2C (raspi-config → Interface Options → I2C, or dtparam=i2c_arm=on) or use --i2c sim`,
    );
  }
  let mod: I2cBusModule;
  try {
    const name = 'i2c-bus'; // no type declarations ship with it; typed by I2cBusModule above
    const imported = (await import(name)) as { default?: I2cBusModule } & I2cBusModule;
    mod = imported.default ?? imported;
  } catch (cause) {
    throw new HwError('HW_UNAVAILABLE', 'the i2c-bus native addon could not be loaded', { cause });
  }
  let bus: PromisifiedBus;
  try {
    bus = await mod.openPromisified(busNumber);
  } catch (cause) {
    throw new HwError(
      'HW_UNAVAILABLE',
      `cannot open /dev/i2c-${busNumber} (${(cause as Error).message}); is I2C enabled and is the user in group i2c?`,
      { cause },
    );
  }
  let closed = false;
  return {
    readByte: (a, r) => bus.readByte(a, r),
    writeByte: (a, r, v) => bus.writeByte(a, r, v),
    close: async () => {
      if (closed) return;
      closed = true;
      await bus.close();
    },
  };
}

/**
 * The bus with a deadline on every transfer: one that has not completed
 * after `timeoutMs` rejects with `HwError('HW_TIMEOUT')`, so a wedged bus or
 * driver becomes an error the relay driver retries and reports instead of a
 * promise that never settles (and a control loop that waits forever). The
 * transfer itself cannot be cancelled; a late result is dropped.
 */
export function withTransferTimeout(bus: I2CBus, timeoutMs: number): I2CBus {
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0))
    throw new HwError('HW_CONFIG', `I2C transfer timeout must be > 0 ms, got ${timeoutMs}`);
  const deadline = <T>(what: string, address: number, work: Promise<T>): Promise<T> =>
    withDeadline(work, timeoutMs, () => {
      throw new HwError('HW_TIMEOUT', `I2C ${what} at ${hex(address)} did not complete within ${timeoutMs} ms`);
    });
  return {
    readByte: (a, r) => deadline('read', a, bus.readByte(a, r)),
    writeByte: (a, r, v) => deadline('write', a, bus.writeByte(a, r, v)),
    close: () => bus.close(),
  };
}
