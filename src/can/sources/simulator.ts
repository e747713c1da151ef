import { SourceError } from '../errors.js';
import type { CanFrame } from '../frame.js';
import {
  encodeLab,
  encodePressure,
  encodePt100,
  encodeScd30,
  encodeStatus,
  encodeWater,
  FAULT_DRY,
  FAULT_WET,
  MessageType,
} from '../protocol.js';
import { stripUndefined } from './socketcan.js';
import { emptyStats, systemClock, type Clock, type FrameSource, type SourceStats } from './types.js';

/**
 * Simulated sensor nodes speaking the default protocol (docs/pipeline.md): Flower Room
 * front (node 1) and back (2), Veg Room (3), Lab (4). Rooms follow day/night
 * curves driven by their light schedule (temperature, humidity and CO2 move
 * towards the lights-on or lights-off setpoint exponentially after each
 * switch), with Gaussian noise, a slow barometric drift, occasional PT100
 * faults (fault bit set, reading at the sensor limit), dry-wick episodes (wet
 * bulb above the dry bulb) and node dropouts. Deterministic for a seed and an
 * injected clock.
 *
 * Timed mode: frames are due at `rate` per second and yielded every `tickMs`.
 * Flat-out mode (`flatOut: true`, for benchmarks): a batch of `batchSize`
 * frames each time the consumer asks, stamped with the clock; the simulated
 * physics then runs on virtual time (1/rate per frame), so a dropout or a
 * dry wick lasts as many frames as it would in timed mode.
 */
export interface SimulatorOptions {
  /** @defaultValue 1 — the random seed. */
  seed: number;
  /**
   * @defaultValue 'nominal' — every node sends each of its message types once a second
   * (15 frames/s in total); a number: frames per second in total; 'saturated': as many
   * as a bus at `bitrate` carries (worst-case bit stuffing).
   */
  rate: number | 'nominal' | 'saturated';
  /** @defaultValue 1_000_000 — bus bit rate for `rate: 'saturated'`. */
  bitrate: number;
  /** @defaultValue false — generate batches as fast as they are taken. */
  flatOut: boolean;
  /** @defaultValue 500 — frames per batch (flat-out), and the most per batch in timed mode. */
  batchSize: number;
  /** @defaultValue 20 — ms between batches in timed mode. */
  tickMs: number;
  /** @defaultValue 0.001 — chance per PT100 frame of a sensor fault (one bulb). */
  faultProbability: number;
  /** @defaultValue 0.0002 — chance per PT100 frame that the wick dries out for `dryWickMs`. */
  dryWickProbability: number;
  /** @defaultValue 120_000 */
  dryWickMs: number;
  /** @defaultValue 0.0002 — chance per frame that the node goes silent for 5–30 s. */
  dropoutProbability: number;
  /** @defaultValue { 'Flower Room': [6, 18], 'Veg Room': [5, 23] } — lights on/off hours. */
  lights: Record<string, [number, number]>;
  /** @defaultValue 0 — hours added to UTC for the light schedule. */
  utcOffsetHours: number;
  /** @defaultValue the system clock */
  clock: Clock;
}

export interface SimulatorStats extends SourceStats {
  dropped: number;
  faults: number;
  dryWickFrames: number;
  /** Timed mode: frames skipped because the consumer fell more than a second behind. */
  overrun: number;
}

interface Profile {
  t: number;
  rh: number;
  co2: number;
}
interface Room {
  location: string;
  day: Profile;
  night: Profile;
}
const ROOMS: Record<string, Room> = {
  'Flower Room': { location: 'Flower Room', day: { t: 26, rh: 55, co2: 1100 }, night: { t: 21, rh: 62, co2: 750 } },
  'Veg Room': { location: 'Veg Room', day: { t: 25, rh: 65, co2: 900 }, night: { t: 22, rh: 70, co2: 650 } },
};

interface SimNode {
  node: number;
  room: Room | null;
  /** Small per-node offsets: the back of a room is a little cooler and more humid. */
  dt: number;
  drh: number;
  types: number[];
  silentUntil: number;
  dryWickUntil: number;
  lastFault: number;
  boot: number;
}

const SCHEDULE_NODES: Array<{ node: number; room: string | null; dt: number; drh: number; types: number[] }> = [
  {
    node: 1,
    room: 'Flower Room',
    dt: 0,
    drh: 0,
    types: [MessageType.PT100, MessageType.PRESSURE, MessageType.SCD30, MessageType.STATUS],
  },
  {
    node: 2,
    room: 'Flower Room',
    dt: -0.4,
    drh: 1.5,
    types: [MessageType.PT100, MessageType.PRESSURE, MessageType.SCD30, MessageType.STATUS],
  },
  {
    node: 3,
    room: 'Veg Room',
    dt: 0,
    drh: 0,
    types: [MessageType.PT100, MessageType.PRESSURE, MessageType.SCD30, MessageType.STATUS],
  },
  { node: 4, room: null, dt: 0, drh: 0, types: [MessageType.WATER, MessageType.LAB, MessageType.STATUS] },
];
const PAYLOAD: Record<number, number> = { 1: 5, 2: 2, 3: 6, 5: 2, 6: 2, 15: 5 };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Wet bulb temperature from dry bulb and RH by Stull's empirical fit (J. Appl.
 * Meteor. Climatol. 50, 2011), good to a few tenths of a degree at sea level
 * for 5–99 % RH. The simulator only needs a plausible wet bulb; the pipeline
 * computes RH the other way with FAO-56 (src/cea/psychrometrics.ts).
 */
export function stullWetBulb(t: number, rh: number): number {
  return (
    t * Math.atan(0.151977 * Math.sqrt(rh + 8.313659)) +
    Math.atan(t + rh) -
    Math.atan(rh - 1.676331) +
    0.00391838 * rh ** 1.5 * Math.atan(0.023101 * rh) -
    4.686035
  );
}

/** Frames per second a bus carries for these payload sizes (standard ids, worst-case stuffing). */
export function busFramesPerSecond(bitrate: number, payloads: number[]): number {
  const bits = payloads.map((n) => 47 + 8 * n + Math.floor((34 + 8 * n - 1) / 4));
  return bitrate / (bits.reduce((a, b) => a + b, 0) / bits.length);
}

/** A small seedable PRNG (mulberry32 construction), uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), s | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export class SimulatorSource implements FrameSource {
  readonly kind = 'simulator' as const;
  readonly opts: SimulatorOptions;
  /** Frames per second in total (timed mode). */
  readonly framesPerSecond: number;
  private readonly rand: () => number;
  private spare: number | null = null;
  private readonly nodes: SimNode[];
  private readonly schedule: Array<[SimNode, number]>;
  private readonly counters: SimulatorStats = { ...emptyStats(), dropped: 0, faults: 0, dryWickFrames: 0, overrun: 0 };
  private readonly abort = new AbortController();
  private cache = new Map<string, { sec: number; t: number; rh: number; co2: number }>();

  constructor(opts: Partial<SimulatorOptions> = {}) {
    this.opts = {
      seed: 1,
      rate: 'nominal',
      bitrate: 1_000_000,
      flatOut: false,
      batchSize: 500,
      tickMs: 20,
      faultProbability: 0.001,
      dryWickProbability: 0.0002,
      dryWickMs: 120_000,
      dropoutProbability: 0.0002,
      lights: { 'Flower Room': [6, 18], 'Veg Room': [5, 23] },
      utcOffsetHours: 0,
      clock: systemClock,
      ...stripUndefined(opts),
    };
    const o = this.opts;
    for (const k of ['faultProbability', 'dryWickProbability', 'dropoutProbability'] as const) {
      if (!(o[k] >= 0 && o[k] <= 1)) throw new SourceError('SOURCE_CONFIG', `${k} must be in [0, 1]`);
    }
    if (!(o.batchSize >= 1) || !(o.tickMs > 0) || !(o.bitrate > 0)) {
      throw new SourceError('SOURCE_CONFIG', 'batchSize, tickMs and bitrate must be positive');
    }
    this.rand = seededRandom(o.seed);
    const now = o.clock.now();
    this.nodes = SCHEDULE_NODES.map((n) => ({
      node: n.node,
      room: n.room ? (ROOMS[n.room] as Room) : null,
      dt: n.dt,
      drh: n.drh,
      types: n.types,
      silentUntil: 0,
      dryWickUntil: 0,
      lastFault: -Infinity,
      boot: now - Math.floor(this.rand() * DAY),
    }));
    this.schedule = this.nodes.flatMap((n) => n.types.map((t): [SimNode, number] => [n, t]));
    const payloads = this.schedule.map(([, t]) => PAYLOAD[t] as number);
    this.framesPerSecond =
      o.rate === 'nominal'
        ? this.schedule.length
        : o.rate === 'saturated'
          ? busFramesPerSecond(o.bitrate, payloads)
          : o.rate;
    if (!(this.framesPerSecond > 0 && Number.isFinite(this.framesPerSecond))) {
      throw new SourceError('SOURCE_CONFIG', `rate must be positive, got ${String(o.rate)}`);
    }
  }

  private gauss(sigma: number): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s * sigma;
    }
    const u = 1 - this.rand();
    const v = this.rand();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v) * sigma;
  }

  /** Whether the room's lights are on at `ts`, and ms since the last switch. */
  lightState(location: string, ts: number): { on: boolean; sinceMs: number } {
    const [on, off] = this.opts.lights[location] ?? [6, 18];
    const h = ((((ts + this.opts.utcOffsetHours * HOUR) % DAY) + DAY) % DAY) / HOUR;
    const isOn = on < off ? h >= on && h < off : h >= on || h < off;
    const since = isOn ? (h - on + 24) % 24 : (h - off + 24) % 24;
    return { on: isOn, sinceMs: since * HOUR };
  }

  /** The noiseless climate of a room at `ts` (cached per second). */
  climate(room: Room, ts: number): { t: number; rh: number; co2: number } {
    const sec = Math.floor(ts / 1000);
    const c = this.cache.get(room.location);
    if (c && c.sec === sec) return c;
    const { on, sinceMs } = this.lightState(room.location, ts);
    const [to, from] = on ? [room.day, room.night] : [room.night, room.day];
    const approach = (a: number, b: number, tauMin: number) => a + (b - a) * Math.exp(-sinceMs / (tauMin * 60_000));
    const v = {
      sec,
      t: approach(to.t, from.t, 20),
      rh: approach(to.rh, from.rh, 30),
      co2: approach(to.co2, from.co2, 5),
    };
    this.cache.set(room.location, v);
    return v;
  }

  /** Barometric pressure, hPa: a 3-day swing and the 12-hour atmospheric tide. */
  pressure(ts: number): number {
    return 1013 + 6 * Math.sin((2 * Math.PI * ts) / (3 * DAY)) + 0.4 * Math.sin((2 * Math.PI * ts) / (DAY / 2));
  }

  /** One frame of `type` from `node` at `ts`, or null when the node is silent (dropout). */
  private frame(n: SimNode, type: number, ts: number): CanFrame | null {
    const o = this.opts;
    if (n.silentUntil > ts) {
      this.counters.dropped++;
      return null;
    }
    if (o.dropoutProbability > 0 && this.rand() < o.dropoutProbability) {
      n.silentUntil = ts + 5000 + this.rand() * 25_000;
      this.counters.dropped++;
      return null;
    }
    const p = this.pressure(ts) + n.node * 0.3;
    switch (type) {
      case MessageType.PT100: {
        const c = this.climate(n.room as Room, ts);
        const dry = c.t + n.dt;
        let wet = Math.min(dry, stullWetBulb(dry, Math.min(99, c.rh + n.drh))) + this.gauss(0.05);
        const dryRead = dry + this.gauss(0.05);
        if (o.dryWickProbability > 0 && n.dryWickUntil <= ts && this.rand() < o.dryWickProbability) {
          n.dryWickUntil = ts + o.dryWickMs;
        }
        if (n.dryWickUntil > ts) {
          wet = dryRead + 0.8 + this.gauss(0.05);
          this.counters.dryWickFrames++;
        }
        let fault = 0;
        if (o.faultProbability > 0 && this.rand() < o.faultProbability) {
          fault = this.rand() < 0.5 ? FAULT_DRY : FAULT_WET;
          n.lastFault = ts;
          this.counters.faults++;
        }
        // A faulted PT100 input reads at the converter's limit (open circuit).
        return encodePt100(n.node, fault & FAULT_DRY ? 327.67 : dryRead, fault & FAULT_WET ? 327.67 : wet, fault, ts);
      }
      case MessageType.PRESSURE:
        return encodePressure(n.node, p + this.gauss(0.1), ts);
      case MessageType.SCD30: {
        const c = this.climate(n.room as Room, ts);
        const rh = Math.max(0, Math.min(100, c.rh + n.drh + this.gauss(0.8)));
        return encodeScd30(n.node, c.co2 + this.gauss(12), c.t + n.dt + 0.4 + this.gauss(0.1), rh, ts);
      }
      case MessageType.WATER:
        return encodeWater(n.node, 19.5 + 0.4 * Math.sin((2 * Math.PI * ts) / DAY) + this.gauss(0.02), ts);
      case MessageType.LAB:
        return encodeLab(n.node, 21 + 1.5 * Math.sin((2 * Math.PI * (ts - 6 * HOUR)) / DAY) + this.gauss(0.05), ts);
      default:
        return encodeStatus(n.node, (ts - n.boot) / 1000, ts - n.lastFault < 60_000 ? 1 : 0, ts);
    }
  }

  /** Generates `count` frames from schedule position `k` at simulated times `at(i)`, stamped `stamp` if given. */
  /** Frames `k … k+count-1`, simulated at virtual time `at(i)`; stamped `at(i) + shift`, or `stamp` for all. */
  private generate(
    k: number,
    count: number,
    at: (i: number) => number,
    out: CanFrame[],
    stamp: { at?: number; shift?: number },
  ): void {
    const len = this.schedule.length;
    const shift = stamp.shift ?? 0;
    for (let i = 0; i < count; i++) {
      const [n, type] = this.schedule[(k + i) % len] as [SimNode, number];
      const t = at(i);
      const f = this.frame(n, type, t);
      if (f) {
        if (stamp.at !== undefined) f.ts = stamp.at;
        else if (shift !== 0) f.ts = Math.round(t + shift);
        out.push(f);
      }
    }
  }

  async *batches(): AsyncGenerator<CanFrame[]> {
    const { clock, batchSize, flatOut, tickMs } = this.opts;
    const signal = this.abort.signal;
    let k = 0;
    if (flatOut) {
      // Stamped with the clock; the simulated physics (curves, dropouts, dry
      // wicks) runs on virtual time advancing 1/rate per frame.
      const t0 = clock.now();
      const msPerFrame = 1000 / this.framesPerSecond;
      while (!signal.aborted) {
        const ts = clock.now();
        const out: CanFrame[] = [];
        const start = k;
        this.generate(k, batchSize, (i) => t0 + (start + i) * msPerFrame, out, { at: ts });
        k += batchSize;
        yield this.emit(out);
      }
      return;
    }
    // Paced on the monotonic clock (a wall-clock step neither stalls the nodes for the length of the
    // step nor bursts them); the physics runs on virtual time from the wall clock at the start, and
    // the stamps follow the wall clock, step included, as a real scanner's do.
    const t0 = clock.now();
    const m0 = clock.monotonic();
    const perMs = this.framesPerSecond / 1000;
    const cap = Math.max(batchSize, Math.ceil(this.framesPerSecond));
    while (!signal.aborted) {
      const elapsed = clock.monotonic() - m0;
      let due = Math.floor(elapsed * perMs) + 1 - k;
      if (due > cap) {
        this.counters.overrun += due - cap;
        k += due - cap;
        due = cap;
      }
      if (due > 0) {
        const out: CanFrame[] = [];
        const start = k;
        const shift = Math.round(clock.now() - t0 - elapsed); // how far the wall clock stepped since the start
        this.generate(k, due, (i) => Math.round(t0 + (start + i) / perMs), out, { shift });
        k += due;
        if (out.length > 0) yield this.emit(out);
      }
      if (signal.aborted) break;
      await clock.sleep(tickMs, signal);
    }
  }

  private emit(out: CanFrame[]): CanFrame[] {
    this.counters.batches++;
    this.counters.frames += out.length;
    return out;
  }

  async close(): Promise<void> {
    this.abort.abort();
  }

  stats(): SimulatorStats {
    return structuredClone(this.counters);
  }
}
