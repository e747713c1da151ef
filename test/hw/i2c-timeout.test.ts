import { describe, expect, it } from 'vitest';
import { HwError } from '../../src/hw/errors.js';
import { withTransferTimeout } from '../../src/hw/i2c.js';
import { Mcp23017Simulator } from '../../src/hw/mcp23017-sim.js';
import { RelayBank } from '../../src/hw/relays.js';

describe('I2C transfer timeout', () => {
  it('turns a transfer that never completes into HwError HW_TIMEOUT; the next transfer works', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20] });
    const bus = withTransferTimeout(sim, 50);
    sim.injectFault({ op: 'write', hang: true });
    const err = await bus.writeByte(0x20, 0x14, 0x01).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HwError);
    expect((err as HwError).code).toBe('HW_TIMEOUT');
    expect((err as HwError).message).toMatch(/write at 0x20 did not complete within 50 ms/);
    await bus.writeByte(0x20, 0x14, 0x03);
    expect(await bus.readByte(0x20, 0x14)).toBe(0x03);
  });

  it('a relay write over a hung transfer fails as a typed error instead of waiting forever, then recovers', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20] });
    const bus = withTransferTimeout(sim, 50);
    const { bank, failed } = await RelayBank.open(bus, [
      { id: 'heater', output: { address: 0x20, port: 'A', pin: 0, activeLow: false }, safeOn: false },
    ]);
    expect(failed).toEqual([]);
    // every attempt of the driver hangs: the write must end with an error, not hang
    sim.injectFault({ op: 'any', hang: true, count: 100 });
    const err = await bank.set('heater', true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HwError);
    expect((err as HwError).code).toBe('HW_TIMEOUT');
    expect(sim.output(0x20, 'A', 0)).toBe(0);
  });

  it('refuses a timeout that is not a positive number', () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20] });
    expect(() => withTransferTimeout(sim, 0)).toThrow(HwError);
  });
});
