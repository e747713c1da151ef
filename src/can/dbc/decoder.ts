import { DbcError } from '../errors.js';
import type { CanFrame } from '../frame.js';
import type { DbcDatabase, DbcMessage, DbcSignal } from './types.js';

/**
 * Decoding in DBC semantics, compiled once per message.
 *
 * Bit numbering: little-endian (Intel, `@1`) signals start at their least
 * significant bit, counted bit 0 = LSB of byte 0, bit 8 = LSB of byte 1, …
 * Big-endian (Motorola, `@0`) signals start at their most significant bit in
 * the "sawtooth" numbering (bit 7 of byte 0 is the first bit on the wire,
 * the bit after bit 0 of byte 0 is bit 15 of byte 1). Extraction uses exact
 * integer arithmetic on Numbers when the signal spans at most 6 bytes, and
 * BigInt otherwise. Values are never clamped: the range status says where a
 * value lies relative to the DBC's [min|max].
 */

export type RangeStatus = 'in' | 'below' | 'above';

export interface DecodedSignal {
  name: string;
  /** The raw integer (a bigint beyond 2^53), or the IEEE value for float signals. */
  raw: number | bigint;
  /** raw × factor + offset, rounded to the decimals of factor and offset. */
  value: number;
  unit: string;
  status: RangeStatus;
  /** The VAL_ label of the raw value, when the signal has a value table. */
  label: string | null;
}

export interface DecodedMessage {
  name: string;
  id: number;
  extended: boolean;
  signals: DecodedSignal[];
  /** The frame was shorter than some signals need; those were left out. */
  truncated: boolean;
}

type Extract = (data: Uint8Array) => number | bigint;

interface CompiledSignal {
  sig: DbcSignal;
  /** Bytes the frame must have for this signal. */
  need: number;
  extract: Extract;
  toValue: (raw: number | bigint) => number;
  /** IEEE value of the bits of a float signal; null for integers. */
  ieee: ((raw: number | bigint) => number) | null;
  /** Index of the selector in the compiled list, -1 when always present. */
  parent: number;
  ranges: Array<[number, number]> | null;
  lo: number;
  hi: number;
  ranged: boolean;
}

/** Position of a signal: bytes b0..b1 and the right shift of the assembled integer. */
function layout(sig: DbcSignal): { b0: number; b1: number; shift: number; big: boolean } {
  if (sig.byteOrder === 'little') {
    const last = sig.startBit + sig.length - 1;
    return { b0: sig.startBit >> 3, b1: last >> 3, shift: sig.startBit & 7, big: false };
  }
  const msb = (sig.startBit >> 3) * 8 + (7 - (sig.startBit & 7));
  const lsb = msb + sig.length - 1;
  return { b0: msb >> 3, b1: lsb >> 3, shift: 7 - (lsb & 7), big: true };
}

function makeExtract(sig: DbcSignal): { extract: Extract; need: number } {
  const { b0, b1, shift, big } = layout(sig);
  const n = b1 - b0 + 1;
  const len = sig.length;
  const signed = sig.signed && sig.valueType === 'integer';
  if (n <= 6) {
    const div = 2 ** shift;
    const mod = 2 ** len;
    const half = 2 ** (len - 1);
    const extract = (data: Uint8Array): number => {
      let acc = 0;
      if (big) for (let k = b0; k <= b1; k++) acc = acc * 256 + (data[k] as number);
      else for (let k = b1; k >= b0; k--) acc = acc * 256 + (data[k] as number);
      let raw = Math.floor(acc / div) % mod;
      if (signed && raw >= half) raw -= mod;
      return raw;
    };
    return { extract, need: b1 + 1 };
  }
  const bshift = BigInt(shift);
  const blen = BigInt(len);
  const mask = (1n << blen) - 1n;
  const extract = (data: Uint8Array): number | bigint => {
    let acc = 0n;
    if (big) for (let k = b0; k <= b1; k++) acc = (acc << 8n) | BigInt(data[k] as number);
    else for (let k = b1; k >= b0; k--) acc = (acc << 8n) | BigInt(data[k] as number);
    let raw = (acc >> bshift) & mask;
    if (signed) raw = BigInt.asIntN(len, raw);
    if (sig.valueType === 'integer' && len <= 53) return Number(raw);
    return raw;
  };
  return { extract, need: b1 + 1 };
}

/** Decimal places of a number as written (0.01 → 2, 1e-05 → 5, 0.0625 → 4). */
function decimals(x: number): number {
  const s = String(x);
  const e = /e-(\d+)$/.exec(s);
  const frac = /\.(\d+)/.exec(s)?.[1]?.length ?? 0;
  return e ? Number(e[1]) + frac : frac;
}

/** The IEEE value of a float signal's bits, or null for integer signals. */
function makeIeee(sig: DbcSignal): ((raw: number | bigint) => number) | null {
  if (sig.valueType === 'integer') return null;
  const view = new DataView(new ArrayBuffer(8));
  if (sig.valueType === 'float32') {
    return (raw) => {
      view.setUint32(0, Number(raw) >>> 0);
      return view.getFloat32(0);
    };
  }
  return (raw) => {
    view.setBigUint64(0, BigInt.asUintN(64, BigInt(raw)));
    return view.getFloat64(0);
  };
}

function makeToValue(sig: DbcSignal): (raw: number | bigint) => number {
  const { factor, offset } = sig;
  const ieee = makeIeee(sig);
  if (ieee) return (raw) => ieee(raw) * factor + offset;
  const d = Math.max(decimals(factor), decimals(offset));
  if (d === 0 || d > 9) return (raw) => Number(raw) * factor + offset;
  const p = 10 ** d;
  return (raw) => {
    const v = Number(raw) * factor + offset;
    const scaled = v * p;
    return Math.abs(scaled) < 2 ** 52 ? Math.round(scaled) / p : v;
  };
}

/** The raw value as a number (labels and selectors are looked up by number). */
function rawNumber(raw: number | bigint): number {
  return typeof raw === 'bigint' ? Number(raw) : raw;
}

/** One DBC message compiled into a decoder. */
export class CompiledMessage {
  readonly message: DbcMessage;
  private readonly signals: CompiledSignal[];
  private readonly selector: Float64Array;
  private readonly present: Uint8Array;

  constructor(message: DbcMessage) {
    this.message = message;
    // Selectors before the signals they select (topological order, no recursion).
    const ordered: DbcSignal[] = [];
    const placed = new Set<string>();
    const byName = new Map(message.signals.map((s) => [s.name, s]));
    for (const first of message.signals) {
      const chain: DbcSignal[] = [];
      let s: DbcSignal | undefined = first;
      while (s && !placed.has(s.name)) {
        if (chain.length > message.signals.length) {
          throw new DbcError(`message ${message.name}: multiplexer cycle at ${s.name}`, 0, 'DBC_INVALID');
        }
        chain.push(s);
        s = s.multiplexerSignal === null ? undefined : byName.get(s.multiplexerSignal);
      }
      for (let k = chain.length - 1; k >= 0; k--) {
        const c = chain[k] as DbcSignal;
        if (placed.has(c.name)) continue;
        placed.add(c.name);
        ordered.push(c);
      }
    }
    const index = new Map(ordered.map((s, i) => [s.name, i]));
    this.signals = ordered.map((sig) => {
      const { extract, need } = makeExtract(sig);
      const eps = Math.abs(sig.factor) * 1e-6 + 1e-12;
      return {
        sig,
        need,
        extract,
        toValue: makeToValue(sig),
        ieee: makeIeee(sig),
        parent: sig.multiplexerSignal === null ? -1 : (index.get(sig.multiplexerSignal) ?? -1),
        ranges: sig.multiplexerRanges,
        lo: sig.min - eps,
        hi: sig.max + eps,
        ranged: !(sig.min === 0 && sig.max === 0),
      };
    });
    this.selector = new Float64Array(this.signals.length);
    this.present = new Uint8Array(this.signals.length);
  }

  /** Walks the present signals; returns true when the data was too short for some. */
  private walk(data: Uint8Array, visit: (c: CompiledSignal, raw: number | bigint) => void): boolean {
    let truncated = false;
    const sigs = this.signals;
    for (let i = 0; i < sigs.length; i++) {
      const c = sigs[i] as CompiledSignal;
      this.present[i] = 0;
      if (c.parent >= 0) {
        if (this.present[c.parent] === 0) continue;
        const sel = this.selector[c.parent] as number;
        const ranges = c.ranges as Array<[number, number]>;
        let match = false;
        for (let r = 0; r < ranges.length; r++) {
          const range = ranges[r] as [number, number];
          if (sel >= range[0] && sel <= range[1]) {
            match = true;
            break;
          }
        }
        if (!match) continue;
      }
      if (data.length < c.need) {
        truncated = true;
        continue;
      }
      const raw = c.extract(data);
      this.present[i] = 1;
      this.selector[i] = rawNumber(raw);
      visit(c, raw);
    }
    return truncated;
  }

  /** Full decode: raw, value, unit, range status and label of every present signal. */
  decode(data: Uint8Array): DecodedMessage {
    const signals: DecodedSignal[] = [];
    const truncated = this.walk(data, (c, raw) => {
      const value = c.toValue(raw);
      const status: RangeStatus = !c.ranged ? 'in' : value < c.lo ? 'below' : value > c.hi ? 'above' : 'in';
      const shown = c.ieee ? c.ieee(raw) : raw;
      const label = c.sig.valueTable?.get(rawNumber(shown)) ?? null;
      signals.push({ name: c.sig.name, raw: shown, value, unit: c.sig.unit, status, label });
    });
    const m = this.message;
    return { name: m.name, id: m.id, extended: m.extended, signals, truncated };
  }

  /**
   * The fast path: writes `name → value` of every present signal into `out`
   * (no other allocation). Returns true when the frame was truncated.
   */
  decodeValues(data: Uint8Array, out: Record<string, number>): boolean {
    return this.walk(data, (c, raw) => {
      out[c.sig.name] = c.toValue(raw);
    });
  }
}

/** Every message of a DBC database compiled once, looked up by (id, extended). */
export class DbcDecoder {
  readonly db: DbcDatabase;
  private readonly standard = new Map<number, CompiledMessage>();
  private readonly extended = new Map<number, CompiledMessage>();

  constructor(db: DbcDatabase) {
    this.db = db;
    for (const m of db.messages) (m.extended ? this.extended : this.standard).set(m.id, new CompiledMessage(m));
  }

  get(id: number, extended: boolean): CompiledMessage | undefined {
    return (extended ? this.extended : this.standard).get(id);
  }

  /** Decodes a frame, or null when the DBC has no message with its id. */
  decode(frame: CanFrame): DecodedMessage | null {
    return this.get(frame.id, frame.extended)?.decode(frame.data) ?? null;
  }
}
