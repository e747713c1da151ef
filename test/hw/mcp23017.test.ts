import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HwError } from '../../src/hw/errors.js';
import { openLinuxI2CBus, parseI2CSpec } from '../../src/hw/i2c.js';
import { Mcp23017 } from '../../src/hw/mcp23017.js';
import { Mcp23017Simulator, type SimWrite } from '../../src/hw/mcp23017-sim.js';
import { IOCON_BANK, registerAddress, registerAt } from '../../src/hw/mcp23017-registers.js';
import { RelayBank, relayKey } from '../../src/hw/relays.js';
import { tempDir } from '../support/tmp.js';

describe('MCP23017 register map', () => {
  it('maps every register both ways in both layouts', () => {
    expect(registerAddress('OLAT', 'A', 0)).toBe(0x14);
    expect(registerAddress('OLAT', 'B', 1)).toBe(0x1a);
    expect(registerAddress('IOCON', 'A', 1)).toBe(0x05);
    for (const bank of [0, 1] as const)
      for (const port of ['A', 'B'] as const)
        for (const name of ['IODIR', 'IPOL', 'GPIO', 'OLAT', 'IOCON'] as const)
          expect(registerAt(registerAddress(name, port, bank), bank)).toEqual({ name, port });
    expect(registerAt(0x0b, 1)).toBeUndefined();
    expect(registerAt(0x16, 0)).toBeUndefined();
  });
});

describe('MCP23017 driver against the simulator', () => {
  it('initialises from a BANK=1 state without ever writing an output latch to a wrong level', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20] });
    sim.setBank(0x20, 1);
    // Pretend a previous program left OLATA = 0xAA in BANK=1 layout (address 0x0A).
    await sim.writeByte(0x20, 0x0a, 0xaa);
    const writes: SimWrite[] = [];
    sim.onWrite((w) => writes.push(w));
    const chip = new Mcp23017(sim, { address: 0x20, outputMask: { A: 0x0f, B: 0x01 }, safeLevels: { A: 0x05, B: 0 } });
    await chip.init();
    expect(sim.bankOf(0x20)).toBe(0);
    expect(sim.register(0x20, 'IODIR', 'A')).toBe(0xf0);
    expect(sim.register(0x20, 'IODIR', 'B')).toBe(0xfe);
    expect(sim.register(0x20, 'OLAT', 'A')).toBe(0x05);
    // The first write reached IOCON (not a latch) and no latch was written before IODIR except with the safe level.
    expect(writes[0]).toMatchObject({ name: 'IOCON', value: 0 });
    const olatWrites = writes.filter((w) => w.name === 'OLAT');
    expect(olatWrites.every((w) => w.value === (w.port === 'A' ? 0x05 : 0))).toBe(true);
    const firstDir = writes.findIndex((w) => w.name === 'IODIR');
    const lastOlat = writes.findLastIndex((w) => w.name === 'OLAT');
    expect(lastOlat).toBeLessThan(firstDir);
    expect(chip.ready).toBe(true);
  });

  it('initialises from the power-on BANK=0 state the same way', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x21] });
    const chip = new Mcp23017(sim, { address: 0x21, outputMask: { A: 0xff, B: 0xff }, safeLevels: { A: 0xff, B: 0 } });
    await chip.init();
    expect(sim.register(0x21, 'IOCON')).toBe(0);
    expect(sim.pinLevels(0x21, 'A')).toBe(0xff);
    expect(sim.pinLevels(0x21, 'B')).toBe(0);
  });

  it('writes outputs through OLAT and reads them back', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20] });
    const writes: SimWrite[] = [];
    const chip = new Mcp23017(sim, { address: 0x20 });
    await chip.init();
    sim.onWrite((w) => writes.push(w));
    await chip.writePort('B', 0x81);
    expect(writes.map((w) => w.name)).toEqual(['OLAT']);
    expect(sim.pinLevels(0x20, 'B')).toBe(0x81);
    expect(await chip.read('B')).toEqual({ olat: 0x81, gpio: 0x81 });
  });

  it('re-initialises after a brown-out reset is found on readback', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20] });
    const chip = new Mcp23017(sim, { address: 0x20, outputMask: { A: 0x03, B: 0 } });
    await chip.init();
    await chip.writePort('A', 0x01);
    sim.powerOnReset(0x20);
    expect(sim.output(0x20, 'A', 0)).toBeNull(); // pins are inputs again
    await chip.check();
    expect(chip.stats.readbackMismatches).toBe(1);
    expect(chip.stats.inits).toBe(2);
    expect(sim.output(0x20, 'A', 0)).toBe(1);
    // and a brown-out just before a write is caught by the write's readback too
    sim.powerOnReset(0x20);
    sim.setBank(0x20, 1);
    await chip.writePort('A', 0x03);
    expect(sim.bankOf(0x20)).toBe(0);
    expect(sim.pinLevels(0x20, 'A') & 0x03).toBe(0x03);
  });

  it('retries through injected bus errors and reports a persistent one as HW_BUS', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20] });
    const chip = new Mcp23017(sim, { address: 0x20, attempts: 3 });
    await chip.init();
    sim.injectFault({ op: 'write', count: 1 });
    await chip.writePort('A', 0x10);
    expect(sim.register(0x20, 'OLAT', 'A')).toBe(0x10);
    expect(chip.stats.busErrors).toBe(1);
    sim.injectFault({ op: 'any', count: 100 });
    const err = await chip.writePort('A', 0x20).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HwError);
    expect((err as HwError).code).toBe('HW_BUS');
    expect(chip.ready).toBe(false);
  });

  it('reports a stuck output pin as HW_READBACK after its retries', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20] });
    const chip = new Mcp23017(sim, { address: 0x20, attempts: 2 });
    await chip.init();
    sim.stickPins(0x20, 'A', 0x04, 0x00);
    const err = await chip.writePort('A', 0x04).catch((e: unknown) => e);
    expect((err as HwError).code).toBe('HW_READBACK');
    sim.unstickPins(0x20);
    await chip.writePort('A', 0x04);
    expect(sim.pinLevels(0x20, 'A')).toBe(0x04);
  });

  it('a missing chip answers ENXIO and the driver turns it into HW_BUS', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20] });
    const chip = new Mcp23017(sim, { address: 0x27, attempts: 1 });
    const err = await chip.init().catch((e: unknown) => e);
    expect((err as HwError).code).toBe('HW_BUS');
    expect((err as Error).message).toMatch(/ENXIO/);
  });

  it('rejects addresses outside 0x20–0x27', () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20] });
    expect(() => new Mcp23017(sim, { address: 0x28 })).toThrow(HwError);
    expect(() => new Mcp23017Simulator({ addresses: [0x40] })).toThrow(/0x20–0x27/);
  });
});

describe('RelayBank', () => {
  const specs = [
    { id: 'heater', output: { address: 0x20, port: 'A' as const, pin: 0, activeLow: true }, safeOn: false },
    { id: 'fan', output: { address: 0x20, port: 'A' as const, pin: 1, activeLow: false }, safeOn: true },
    { id: 'lights', output: { address: 0x21, port: 'B' as const, pin: 7, activeLow: false }, safeOn: false },
  ];

  it('opens with every relay in its safe state, active-low honoured', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20, 0x21] });
    sim.setBank(0x21, 1);
    const { bank, failed } = await RelayBank.open(sim, specs);
    expect(failed).toEqual([]);
    expect(sim.output(0x20, 'A', 0)).toBe(1); // active-low heater off = high
    expect(sim.output(0x20, 'A', 1)).toBe(1); // fan safe on
    expect(sim.output(0x21, 'B', 7)).toBe(0);
    expect(sim.output(0x20, 'A', 2)).toBeNull(); // unused pins stay inputs
    await bank.set('heater', true);
    expect(sim.output(0x20, 'A', 0)).toBe(0);
    expect(sim.output(0x20, 'A', 1)).toBe(1);
    await Promise.all([bank.set('fan', false), bank.set('heater', false)]);
    expect(sim.output(0x20, 'A', 0)).toBe(1);
    expect(sim.output(0x20, 'A', 1)).toBe(0);
    await bank.set('lights', true);
    await bank.allSafe();
    expect(sim.output(0x21, 'B', 7)).toBe(0);
    expect(sim.output(0x20, 'A', 1)).toBe(1);
  });

  it('refuses two relays on one output', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20] });
    const dup = [specs[0]!, { ...specs[1]!, output: { ...specs[0]!.output } }];
    await expect(RelayBank.open(sim, dup)).rejects.toThrow(/same output 0x20\/A0/);
    expect(relayKey(specs[2]!.output)).toBe('0x21/B7');
  });

  it('reports a chip that cannot be initialised and keeps the others working', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20] });
    const { bank, failed } = await RelayBank.open(sim, specs, { attempts: 1 });
    expect(failed).toHaveLength(1);
    expect(failed[0]!.message).toMatch(/0x21/);
    await bank.set('heater', true);
    expect(sim.output(0x20, 'A', 0)).toBe(0);
  });

  it('shares its registers with another process through the state file', async () => {
    const file = path.join(tempDir(), 'mcp.json');
    const a = new Mcp23017Simulator({ addresses: [0x20, 0x21], stateFile: file });
    const { bank } = await RelayBank.open(a, specs);
    await bank.set('lights', true);
    const b = new Mcp23017Simulator({ addresses: [0x20, 0x21], stateFile: file });
    expect(b.output(0x21, 'B', 7)).toBe(1);
    expect(b.register(0x21, 'IOCON') & IOCON_BANK).toBe(0);
    fs.writeFileSync(file, 'nope');
    expect(() => new Mcp23017Simulator({ stateFile: file })).toThrow(/not JSON/);
  });
});

describe('parseI2CSpec', () => {
  it('parses bus numbers and simulator specs', () => {
    expect(parseI2CSpec('1')).toEqual({ kind: 'linux', bus: 1 });
    expect(parseI2CSpec('linux:0')).toEqual({ kind: 'linux', bus: 0 });
    expect(parseI2CSpec('sim')).toEqual({ kind: 'sim' });
    expect(parseI2CSpec('sim:/x/y.json')).toEqual({ kind: 'sim', file: '/x/y.json' });
    expect(() => parseI2CSpec('i2c')).toThrow(/bus number/);
  });

  it('a missing /dev/i2c-N is a clear HW_UNAVAILABLE error', async () => {
    const err = await openLinuxI2CBus(97).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HwError);
    expect((err as HwError).code).toBe('HW_UNAVAILABLE');
    expect((err as Error).message).toMatch(/\/dev\/i2c-97 does not exist/);
  });
});
