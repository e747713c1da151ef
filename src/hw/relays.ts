import { HwError, hex } from './errors.js';
import type { I2CBus } from './i2c.js';
import type { Mcp23017Options, PortLevels } from './mcp23017.js';
import { Mcp23017 } from './mcp23017.js';
import type { Port } from './mcp23017-registers.js';
import { MCP23017_MAX_ADDRESS, MCP23017_MIN_ADDRESS } from './mcp23017-registers.js';

/** Where one relay is wired: an MCP23017 pin, and whether the relay board switches on a low level. */
export interface RelayOutput {
  address: number;
  port: Port;
  pin: number;
  /** @defaultValue false — most opto-isolated relay boards are active-low: set true for them. */
  activeLow: boolean;
}

/** One relay of a {@link RelayBank}: its id (the device name), wiring and safe state. */
export interface RelaySpec {
  id: string;
  output: RelayOutput;
  /** Whether the relay is energised (on) in its safe state. */
  safeOn: boolean;
}

/** `0x20/A3`. */
export function relayKey(o: Pick<RelayOutput, 'address' | 'port' | 'pin'>): string {
  return `${hex(o.address)}/${o.port}${o.pin}`;
}

/** The latch level that switches a relay on or off. */
export function levelFor(output: RelayOutput, on: boolean): 0 | 1 {
  return on !== output.activeLow ? 1 : 0;
}

/**
 * The relays of a set of devices over one I2C bus: one {@link Mcp23017} per
 * address, only the pins in use made outputs. Opening it initialises every
 * chip with each relay in its safe state.
 */
export class RelayBank {
  readonly #specs = new Map<string, RelaySpec>();
  readonly #chips = new Map<number, Mcp23017>();
  readonly #on = new Map<string, boolean>();
  #closed = false;

  private constructor(specs: RelaySpec[], bus: I2CBus, chipOptions: Partial<Omit<Mcp23017Options, 'address'>>) {
    const used = new Map<string, string>();
    const masks = new Map<number, PortLevels>();
    const safe = new Map<number, PortLevels>();
    for (const s of specs) {
      const o = s.output;
      if (!Number.isInteger(o.address) || o.address < MCP23017_MIN_ADDRESS || o.address > MCP23017_MAX_ADDRESS)
        throw new HwError('HW_CONFIG', `${s.id}: address must be 0x20–0x27`);
      if (!Number.isInteger(o.pin) || o.pin < 0 || o.pin > 7)
        throw new HwError('HW_CONFIG', `${s.id}: pin must be 0–7`);
      const key = relayKey(o);
      const other = used.get(key);
      if (other) throw new HwError('HW_CONFIG', `${s.id} and ${other} are wired to the same output ${key}`);
      used.set(key, s.id);
      this.#specs.set(s.id, s);
      const m = masks.get(o.address) ?? { A: 0, B: 0 };
      m[o.port] |= 1 << o.pin;
      masks.set(o.address, m);
      const l = safe.get(o.address) ?? { A: 0, B: 0 };
      l[o.port] |= levelFor(o, s.safeOn) << o.pin;
      safe.set(o.address, l);
      this.#on.set(s.id, s.safeOn);
    }
    for (const [address, outputMask] of masks) {
      this.#chips.set(
        address,
        new Mcp23017(bus, { ...chipOptions, address, outputMask, safeLevels: safe.get(address) ?? { A: 0, B: 0 } }),
      );
    }
  }

  /**
   * Builds the bank and drives every relay to its safe state. Chips that
   * fail to initialise are reported in `failed` (they are retried on the
   * next write or {@link check}); the bank is usable either way.
   */
  static async open(
    bus: I2CBus,
    specs: RelaySpec[],
    chipOptions: Partial<Omit<Mcp23017Options, 'address'>> = {},
  ): Promise<{ bank: RelayBank; failed: HwError[] }> {
    const bank = new RelayBank(specs, bus, chipOptions);
    const failed: HwError[] = [];
    for (const chip of bank.#chips.values()) {
      try {
        await chip.init();
      } catch (err) {
        failed.push(asHwError(err));
      }
    }
    return { bank, failed };
  }

  ids(): string[] {
    return [...this.#specs.keys()];
  }

  /** Whether the relay is (intended to be) on. */
  isOn(id: string): boolean {
    return this.#on.get(id) ?? false;
  }

  /** Switches one relay and verifies it; throws {@link HwError} when the chip cannot be brought to it. */
  async set(id: string, on: boolean): Promise<void> {
    if (this.#closed) throw new HwError('HW_CLOSED', 'relay bank is closed');
    const s = this.#spec(id);
    const chip = this.#chips.get(s.output.address)!;
    const { port, pin } = s.output;
    this.#on.set(id, on);
    const bit = 1 << pin;
    const high = levelFor(s.output, on);
    await chip.updatePort(port, (cur) => (high ? cur | bit : cur & ~bit));
  }

  /** Every chip driven back to its safe levels (used by the one-shot `--safe-state`). */
  async allSafe(): Promise<HwError[]> {
    const failed: HwError[] = [];
    for (const s of this.#specs.values()) this.#on.set(s.id, s.safeOn);
    for (const chip of this.#chips.values()) {
      try {
        await chip.init(chip.options.safeLevels);
      } catch (err) {
        failed.push(asHwError(err));
      }
    }
    return failed;
  }

  /** Verifies every chip (re-initialising one that lost its registers); returns the failures. */
  async check(): Promise<HwError[]> {
    const failed: HwError[] = [];
    for (const chip of this.#chips.values()) {
      try {
        await chip.check();
      } catch (err) {
        failed.push(asHwError(err));
      }
    }
    return failed;
  }

  /** Driver statistics per chip address. */
  stats(): Record<string, Mcp23017['stats']> {
    return Object.fromEntries([...this.#chips].map(([a, c]) => [hex(a), { ...c.stats }]));
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #spec(id: string): RelaySpec {
    const s = this.#specs.get(id);
    if (!s) throw new HwError('HW_CONFIG', `no relay named ${id}`);
    return s;
  }
}

function asHwError(err: unknown): HwError {
  return err instanceof HwError ? err : new HwError('HW_BUS', (err as Error).message, { cause: err });
}
