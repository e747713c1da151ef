import { HwError, hex } from './errors.js';
import type { I2CBus } from './i2c.js';
import type { Port } from './mcp23017-registers.js';
import { BANK0, BANK_RESET_ADDRESS, MCP23017_MAX_ADDRESS, MCP23017_MIN_ADDRESS } from './mcp23017-registers.js';

export type PortLevels = Record<Port, number>;

/** One MCP23017 used as an output expander. */
export interface Mcp23017Options {
  /** 7-bit address, 0x20–0x27. */
  address: number;
  /** @defaultValue `{A: 0xff, B: 0xff}` — pins driven as outputs (bit set); the others stay high-impedance inputs. */
  outputMask: PortLevels;
  /** @defaultValue `{A: 0, B: 0}` — the latch levels the outputs take at initialisation (their safe state). */
  safeLevels: PortLevels;
  /** @defaultValue 3 — attempts of one operation (transfer errors and readback mismatches re-initialise in between). */
  attempts: number;
  /** @defaultValue true — also compare the GPIO pin levels of output pins with the latch. */
  verifyPins: boolean;
  /** @defaultValue 0x00 — IOCON value (BANK=0 is forced whatever is given). */
  iocon: number;
}

export const MCP23017_DEFAULTS: Omit<Mcp23017Options, 'address'> = {
  outputMask: { A: 0xff, B: 0xff },
  safeLevels: { A: 0, B: 0 },
  attempts: 3,
  verifyPins: true,
  iocon: 0x00,
};

export interface Mcp23017Stats {
  inits: number;
  writes: number;
  busErrors: number;
  readbackMismatches: number;
}

/**
 * MCP23017 output driver. Initialisation is safe from an unknown IOCON.BANK
 * state (see {@link BANK_RESET_ADDRESS}) and sets the output latches before
 * the pins become outputs, so no pin ever glitches. Outputs are written
 * through OLAT and verified by reading OLAT (and the pins) back; a transfer
 * error or a mismatch re-initialises the chip with the intended levels and
 * retries. Operations on one chip are serialised.
 */
export class Mcp23017 {
  readonly options: Mcp23017Options;
  readonly stats: Mcp23017Stats = { inits: 0, writes: 0, busErrors: 0, readbackMismatches: 0 };
  readonly #bus: I2CBus;
  /** The levels we intend the latches to hold. */
  #levels: PortLevels;
  #ready = false;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(bus: I2CBus, options: Partial<Mcp23017Options> & { address: number }) {
    const o: Mcp23017Options = { ...MCP23017_DEFAULTS, ...options };
    if (!Number.isInteger(o.address) || o.address < MCP23017_MIN_ADDRESS || o.address > MCP23017_MAX_ADDRESS) {
      throw new HwError('HW_CONFIG', `MCP23017 address must be 0x20–0x27, got ${o.address}`);
    }
    if (!(o.attempts >= 1)) throw new HwError('HW_CONFIG', `attempts must be >= 1, got ${o.attempts}`);
    this.options = o;
    this.#bus = bus;
    this.#levels = { ...o.safeLevels };
  }

  /** The latch levels last written successfully (or intended, while a write is retried). */
  get levels(): PortLevels {
    return { ...this.#levels };
  }

  /** Whether the chip was initialised and its last operation verified. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Initialises the chip with its safe levels (or the given ones) and verifies it. */
  init(levels: PortLevels = this.options.safeLevels): Promise<void> {
    return this.#serial(async () => {
      this.#levels = { A: levels.A & 0xff, B: levels.B & 0xff };
      this.#ready = false;
      await this.#withRetry('init', async () => undefined);
    });
  }

  /** Writes one port's output latch and verifies it. */
  writePort(port: Port, level: number): Promise<void> {
    return this.updatePort(port, () => level);
  }

  /**
   * Changes some pins of a port: `fn` gets the intended latch level when the
   * chip's turn comes (operations are serialised), and returns the new one.
   */
  updatePort(port: Port, fn: (current: number) => number): Promise<void> {
    return this.#serial(async () => {
      const level = fn(this.#levels[port]) & 0xff;
      this.#levels = { ...this.#levels, [port]: level };
      await this.#withRetry(`write OLAT${port}`, async () => {
        await this.#bus.writeByte(this.options.address, port === 'A' ? BANK0.OLATA : BANK0.OLATB, level & 0xff);
        this.stats.writes++;
        await this.#verifyPort(port);
      });
    });
  }

  /** Re-reads the configuration and latches; re-initialises when the chip lost them (a brown-out). */
  check(): Promise<void> {
    return this.#serial(() => this.#withRetry('check', () => this.#verifyAll()));
  }

  /** Reads back the latch and pin levels of a port. */
  read(port: Port): Promise<{ olat: number; gpio: number }> {
    return this.#serial(async () => {
      const a = this.options.address;
      const olat = await this.#bus.readByte(a, port === 'A' ? BANK0.OLATA : BANK0.OLATB);
      const gpio = await this.#bus.readByte(a, port === 'A' ? BANK0.GPIOA : BANK0.GPIOB);
      return { olat, gpio };
    });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Runs `op` on an initialised chip; on failure re-initialises and tries again. */
  async #withRetry(what: string, op: () => Promise<void>): Promise<void> {
    let last: unknown;
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      try {
        if (!this.#ready) await this.#initSequence();
        await op();
        return;
      } catch (err) {
        last = err;
        this.#ready = false;
        if (err instanceof HwError && err.code === 'HW_READBACK') this.stats.readbackMismatches++;
        else this.stats.busErrors++;
      }
    }
    if (last instanceof HwError) throw last;
    throw new HwError(
      'HW_BUS',
      `MCP23017 ${hex(this.options.address)}: ${what} failed after ${this.options.attempts} attempts (${(last as Error)?.message})`,
      { cause: last },
    );
  }

  async #initSequence(): Promise<void> {
    const a = this.options.address;
    const bus = this.#bus;
    this.stats.inits++;
    // 1. Force BANK=0 without touching a latch whatever layout the chip is in.
    await bus.writeByte(a, BANK_RESET_ADDRESS, 0x00);
    // 2. Now in BANK=0 for sure: the full IOCON.
    await bus.writeByte(a, BANK0.IOCON, this.options.iocon & 0x7e);
    // 3. Latches first, so pins come up at their intended levels …
    await bus.writeByte(a, BANK0.OLATA, this.#levels.A);
    await bus.writeByte(a, BANK0.OLATB, this.#levels.B);
    // 4. … no inversion, no interrupts, no pull-ups on outputs …
    await bus.writeByte(a, BANK0.IPOLA, 0);
    await bus.writeByte(a, BANK0.IPOLB, 0);
    await bus.writeByte(a, BANK0.GPINTENA, 0);
    await bus.writeByte(a, BANK0.GPINTENB, 0);
    // 5. … then the direction registers.
    await bus.writeByte(a, BANK0.IODIRA, ~this.options.outputMask.A & 0xff);
    await bus.writeByte(a, BANK0.IODIRB, ~this.options.outputMask.B & 0xff);
    await this.#verifyAll();
    this.#ready = true;
  }

  async #verifyAll(): Promise<void> {
    const a = this.options.address;
    const iocon = await this.#bus.readByte(a, BANK0.IOCON);
    const want = this.options.iocon & 0x7e;
    if (iocon !== want) this.#mismatch('IOCON', want, iocon);
    for (const port of ['A', 'B'] as const) {
      const dir = await this.#bus.readByte(a, port === 'A' ? BANK0.IODIRA : BANK0.IODIRB);
      const wantDir = ~this.options.outputMask[port] & 0xff;
      if (dir !== wantDir) this.#mismatch(`IODIR${port}`, wantDir, dir);
      await this.#verifyPort(port);
    }
  }

  async #verifyPort(port: Port): Promise<void> {
    const a = this.options.address;
    const want = this.#levels[port];
    const olat = await this.#bus.readByte(a, port === 'A' ? BANK0.OLATA : BANK0.OLATB);
    if (olat !== want) this.#mismatch(`OLAT${port}`, want, olat);
    if (!this.options.verifyPins) return;
    const mask = this.options.outputMask[port];
    const gpio = await this.#bus.readByte(a, port === 'A' ? BANK0.GPIOA : BANK0.GPIOB);
    if ((gpio & mask) !== (want & mask)) this.#mismatch(`GPIO${port} (output pins)`, want & mask, gpio & mask);
  }

  #mismatch(reg: string, want: number, got: number): never {
    throw new HwError(
      'HW_READBACK',
      `MCP23017 ${hex(this.options.address)}: ${reg} reads ${hex(got)}, expected ${hex(want)}`,
    );
  }
}
