import fs from 'node:fs';
import path from 'node:path';
import { HwError, hex } from './errors.js';
import type { I2CBus } from './i2c.js';
import type { Port, RegisterName } from './mcp23017-registers.js';
import {
  IOCON_BANK,
  MCP23017_MAX_ADDRESS,
  MCP23017_MIN_ADDRESS,
  REGISTER_NAMES,
  registerAt,
} from './mcp23017-registers.js';

/** One register write as the simulated chip saw it. */
export interface SimWrite {
  address: number;
  register: number;
  /** The register it reached in the layout in force at the time (undefined: unimplemented address). */
  name: RegisterName | undefined;
  port: Port | undefined;
  value: number;
  /** `performance.now()` when the write arrived. */
  at: number;
}

/** An injected fault: the next `count` matching transfers fail with errno `code`. */
export interface SimFault {
  op: 'read' | 'write' | 'any';
  /** @defaultValue 1 */
  count?: number;
  /** @defaultValue `EIO` */
  code?: string;
  /** Only transfers to this device address (default: any). */
  address?: number;
  /** @defaultValue false — the transfer never completes (a hung bus) instead of failing. */
  hang?: boolean;
}

export interface Mcp23017SimulatorOptions {
  /** @defaultValue 0x20..0x27 — the chips present on the bus; others NACK (ENXIO). */
  addresses: number[];
  /**
   * @defaultValue undefined (in memory) — a JSON file holding every chip's
   * registers, written on each register write and read at construction, so
   * another process (e.g. `canopy automation --safe-state`) sees the same
   * "hardware".
   */
  stateFile: string | undefined;
}

type Regs = Record<Port, Record<RegisterName, number>>;
interface Chip {
  regs: Regs;
  /** Levels driven into input pins from outside. */
  inputs: Record<Port, number>;
  /** Pins stuck at a level whatever OLAT says: mask and level. */
  stuck: Record<Port, { mask: number; level: number }>;
}

function porRegs(): Regs {
  const port = (): Record<RegisterName, number> => {
    const r = Object.fromEntries(REGISTER_NAMES.map((n) => [n, 0])) as Record<RegisterName, number>;
    r.IODIR = 0xff;
    return r;
  };
  return { A: port(), B: port() };
}

function errno(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/**
 * A register-level MCP23017 simulator behind the {@link I2CBus} interface:
 * both IOCON.BANK layouts, the shared IOCON, GPIO writes landing in OLAT,
 * output pins reading back their latch, power-on reset, missing chips that
 * NACK, and injectable faults (failed transfers, stuck pins).
 */
export class Mcp23017Simulator implements I2CBus {
  readonly options: Mcp23017SimulatorOptions;
  readonly #chips = new Map<number, Chip>();
  readonly #faults: {
    op: SimFault['op'];
    count: number;
    code: string;
    address: number | undefined;
    hang: boolean;
  }[] = [];
  readonly #listeners = new Set<(w: SimWrite) => void>();
  #closed = false;
  /** Every transfer counted, for tests. */
  readonly counts = { reads: 0, writes: 0, faults: 0 };

  constructor(options: Partial<Mcp23017SimulatorOptions> = {}) {
    const all = Array.from({ length: 8 }, (_, i) => MCP23017_MIN_ADDRESS + i);
    this.options = { addresses: all, stateFile: undefined, ...options };
    for (const a of this.options.addresses) {
      if (!(a >= MCP23017_MIN_ADDRESS && a <= MCP23017_MAX_ADDRESS)) {
        throw new HwError('HW_CONFIG', `MCP23017 address must be 0x20–0x27, got ${hex(a)}`);
      }
      this.#chips.set(a, { regs: porRegs(), inputs: { A: 0, B: 0 }, stuck: emptyStuck() });
    }
    if (this.options.stateFile) this.#load(this.options.stateFile);
  }

  async readByte(address: number, register: number): Promise<number> {
    const chip = await this.#transfer('read', address);
    this.counts.reads++;
    const r = registerAt(register, this.bankOf(address));
    if (!r) return 0;
    if (r.name === 'GPIO') return this.pinLevels(address, r.port) ^ (chip.regs[r.port].IPOL & chip.regs[r.port].IODIR);
    if (r.name === 'INTCAP') chip.regs.A.INTF = chip.regs.B.INTF = 0;
    return chip.regs[r.port][r.name];
  }

  async writeByte(address: number, register: number, value: number): Promise<void> {
    const chip = await this.#transfer('write', address);
    this.counts.writes++;
    const v = value & 0xff;
    const r = registerAt(register, this.bankOf(address));
    if (r && r.name !== 'INTF' && r.name !== 'INTCAP') {
      if (r.name === 'IOCON') {
        chip.regs.A.IOCON = chip.regs.B.IOCON = v & 0xfe; // bit 0 unimplemented
      } else if (r.name === 'GPIO') {
        chip.regs[r.port].OLAT = v;
      } else {
        chip.regs[r.port][r.name] = v;
      }
      this.#save();
    }
    const w: SimWrite = { address, register, name: r?.name, port: r?.port, value: v, at: performance.now() };
    for (const l of this.#listeners) l(w);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Calls `fn` on every register write; returns the unsubscribe function. */
  onWrite(fn: (w: SimWrite) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Makes the next matching transfers fail. */
  injectFault(f: SimFault): void {
    this.#faults.push({ op: f.op, count: f.count ?? 1, code: f.code ?? 'EIO', address: f.address, hang: !!f.hang });
  }

  /** Pins of `port` read `level` whatever the latch says (a welded relay driver, a short). */
  stickPins(address: number, port: Port, mask: number, level: number): void {
    this.#chip(address).stuck[port] = { mask: mask & 0xff, level: level & 0xff };
  }

  unstickPins(address: number): void {
    this.#chip(address).stuck = emptyStuck();
  }

  /** Power-on reset (a brown-out): every register back to its default, BANK=0, all pins inputs. */
  powerOnReset(address: number): void {
    this.#chip(address).regs = porRegs();
    this.#save();
  }

  /** Puts the chip into the BANK=1 layout as a previous program may have left it. */
  setBank(address: number, bank: 0 | 1): void {
    const c = this.#chip(address);
    c.regs.A.IOCON = c.regs.B.IOCON = bank ? c.regs.A.IOCON | IOCON_BANK : c.regs.A.IOCON & ~IOCON_BANK;
    this.#save();
  }

  bankOf(address: number): 0 | 1 {
    return this.#chip(address).regs.A.IOCON & IOCON_BANK ? 1 : 0;
  }

  /** A copy of one register, by name (layout independent). */
  register(address: number, name: RegisterName, port: Port = 'A'): number {
    return this.#chip(address).regs[port][name];
  }

  /**
   * The electrical level of each pin of `port`: the latch for output pins,
   * the external input for input pins, stuck pins forced.
   */
  pinLevels(address: number, port: Port): number {
    const c = this.#chip(address);
    const dir = c.regs[port].IODIR;
    const driven = (c.regs[port].OLAT & ~dir) | (c.inputs[port] & dir);
    const s = c.stuck[port];
    return ((driven & ~s.mask) | (s.level & s.mask)) & 0xff;
  }

  /** Whether `pin` of `port` is an output driven high (`1`), driven low (`0`), or an input (`null`). */
  output(address: number, port: Port, pin: number): 0 | 1 | null {
    const c = this.#chip(address);
    if ((c.regs[port].IODIR >> pin) & 1) return null;
    return ((this.pinLevels(address, port) >> pin) & 1) as 0 | 1;
  }

  #chip(address: number): Chip {
    const c = this.#chips.get(address);
    if (!c) throw new HwError('HW_CONFIG', `no simulated MCP23017 at ${hex(address)}`);
    return c;
  }

  async #transfer(op: 'read' | 'write', address: number): Promise<Chip> {
    if (this.#closed) throw new HwError('HW_CLOSED', 'simulated I2C bus is closed');
    const i = this.#faults.findIndex(
      (f) => (f.op === 'any' || f.op === op) && (f.address === undefined || f.address === address),
    );
    if (i >= 0) {
      const f = this.#faults[i]!;
      if (--f.count <= 0) this.#faults.splice(i, 1);
      this.counts.faults++;
      if (f.hang) return new Promise<never>(() => undefined); // never settles, like a wedged bus
      throw errno(f.code, `injected ${op} fault at ${hex(address)}`);
    }
    const c = this.#chips.get(address);
    if (!c) throw errno('ENXIO', `no device answers at ${hex(address)}`);
    return c;
  }

  #save(): void {
    const file = this.options.stateFile;
    if (!file) return;
    const out: Record<string, Regs> = {};
    for (const [a, c] of this.#chips) out[hex(a)] = c.regs;
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(out));
    fs.renameSync(tmp, file);
  }

  #load(file: string): void {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        this.#save();
        return;
      }
      throw err;
    }
    let data: Record<string, Regs>;
    try {
      data = JSON.parse(text) as Record<string, Regs>;
    } catch (cause) {
      throw new HwError('HW_CONFIG', `simulator state file ${file} is not JSON`, { cause });
    }
    for (const [k, regs] of Object.entries(data)) {
      const c = this.#chips.get(Number(k));
      if (c && regs?.A && regs?.B) c.regs = { A: { ...c.regs.A, ...regs.A }, B: { ...c.regs.B, ...regs.B } };
    }
  }
}

function emptyStuck(): Chip['stuck'] {
  return { A: { mask: 0, level: 0 }, B: { mask: 0, level: 0 } };
}
