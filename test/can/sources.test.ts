import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatCandumpLine } from '../../src/can/candump.js';
import { SourceError } from '../../src/can/errors.js';
import { makeFrame, type CanFrame } from '../../src/can/frame.js';
import {
  busFramesPerSecond,
  createFrameSource,
  parseSourceSpec,
  PipeSource,
  ReplaySource,
  SimulatorSource,
  SocketCanSource,
  type Clock,
  type FrameSource,
} from '../../src/can/sources/index.js';
import { tempDir } from '../support/tmp.js';

/** A virtual clock: sleep advances time at once; `t` is the wall clock (a test may step it), `m` the monotonic one. */
function fakeClock(start: number): Clock & { t: number; m: number } {
  const c = {
    t: start,
    m: 0,
    now: () => c.t,
    monotonic: () => c.m,
    sleep: async (ms: number) => {
      c.t += ms;
      c.m += ms;
    },
  };
  return c;
}

async function take(src: FrameSource, maxFrames = Infinity, maxBatches = Infinity): Promise<CanFrame[][]> {
  const out: CanFrame[][] = [];
  let n = 0;
  for await (const b of src.batches()) {
    out.push(b);
    n += b.length;
    if (n >= maxFrames || out.length >= maxBatches) break;
  }
  await src.close();
  return out;
}

const NOON = Date.UTC(2024, 0, 15, 12, 0, 0);
const MIDNIGHT = Date.UTC(2024, 0, 15, 0, 0, 0);

describe('simulator', () => {
  it('is deterministic for a seed and a clock', async () => {
    const run = (seed: number) =>
      take(new SimulatorSource({ seed, clock: fakeClock(NOON), rate: 200, faultProbability: 0.05 }), 1000);
    const a = (await run(7)).flat();
    const b = (await run(7)).flat();
    const c = (await run(8)).flat();
    expect(a.length).toBeGreaterThanOrEqual(1000);
    expect(a).toEqual(b);
    expect(a.map((f) => [...f.data])).not.toEqual(c.map((f) => [...f.data]));
  });

  it('sends every message type of every node at the nominal rate (1/s per type per node)', async () => {
    const clock = fakeClock(NOON);
    const src = new SimulatorSource({ clock, dropoutProbability: 0 });
    expect(src.framesPerSecond).toBe(15);
    const frames = (await take(src, 150)).flat();
    const ids = new Set(frames.map((f) => f.id));
    expect([...ids].sort((x, y) => x - y)).toEqual([
      0x101, 0x102, 0x103, 0x10f, 0x201, 0x202, 0x203, 0x20f, 0x301, 0x302, 0x303, 0x30f, 0x405, 0x406, 0x40f,
    ]);
    // 150 frames at 15/s span 10 s of virtual time.
    const span = (frames.at(-1) as CanFrame).ts - (frames[0] as CanFrame).ts;
    expect(span).toBeGreaterThanOrEqual(9000);
    expect(span).toBeLessThanOrEqual(11000);
  });

  it('produces the configured rate in virtual time', async () => {
    const clock = fakeClock(NOON);
    const src = new SimulatorSource({ clock, rate: 5000, dropoutProbability: 0 });
    let n = 0;
    for await (const b of src.batches()) {
      n += b.length;
      if (clock.t - NOON >= 2000) break;
    }
    await src.close();
    // Frames due in [0, 2000 ms] at 5000/s: 10,001, give or take one tick.
    expect(n).toBeGreaterThanOrEqual(10_001 - 100);
    expect(n).toBeLessThanOrEqual(10_001 + 100);
  });

  it('a wall-clock step back neither stalls the nodes nor bursts them; the stamps follow the step', async () => {
    const clock = fakeClock(NOON);
    const src = new SimulatorSource({ clock, rate: 100, dropoutProbability: 0 });
    const before: CanFrame[] = [];
    const after: CanFrame[] = [];
    let stepAtM = -1;
    for await (const b of src.batches()) {
      (stepAtM < 0 ? before : after).push(...b);
      if (stepAtM < 0 && clock.m >= 2000) {
        clock.t -= 3_600_000; // the wall clock steps back an hour; the monotonic one does not
        stepAtM = clock.m;
      }
      if (stepAtM >= 0 && clock.m - stepAtM >= 2000) break;
    }
    await src.close();
    // 2 s after the step at 100/s: about 200 frames (the old pacing on the wall clock gave none for an hour)
    expect(after.length).toBeGreaterThanOrEqual(190);
    expect(after.length).toBeLessThanOrEqual(210);
    expect(Math.max(...before.map((f) => f.ts))).toBeGreaterThan(NOON + 1900);
    for (const f of after) expect(f.ts).toBeLessThan(NOON - 3_600_000 + 4200);
    expect(Math.min(...after.map((f) => f.ts))).toBeGreaterThan(NOON - 3_600_000 + 1900);
  });

  it('saturated rate matches a 1 Mbit/s bus; flat-out yields full batches', async () => {
    const sat = new SimulatorSource({ rate: 'saturated', clock: fakeClock(NOON) });
    expect(sat.framesPerSecond).toBeCloseTo(
      busFramesPerSecond(1_000_000, [5, 2, 6, 5, 5, 2, 6, 5, 5, 2, 6, 5, 2, 2, 5]),
    );
    expect(sat.framesPerSecond).toBeGreaterThan(7000);
    expect(sat.framesPerSecond).toBeLessThan(12_000);
    const flat = await take(new SimulatorSource({ flatOut: true, batchSize: 1000, dropoutProbability: 0 }), 5000);
    expect(flat).toHaveLength(5);
    expect(flat.every((b) => b.length === 1000)).toBe(true);
    // Flat-out physics runs on virtual time: a dropout lasts frames, not the whole run.
    const clock = fakeClock(NOON);
    const lossy = new SimulatorSource({ flatOut: true, batchSize: 1000, dropoutProbability: 0.001, clock });
    const got = await take(lossy, Infinity, 50);
    expect(lossy.stats().dropped).toBeGreaterThan(0);
    expect(got.slice(-10).every((b) => b.length > 500)).toBe(true);
    expect(got.flat().every((f) => f.ts === NOON)).toBe(true);
  });

  it('rooms are warmer and CO2 higher with lights on (day) than off (night)', async () => {
    const mean = async (start: number, id: number, byte: 0 | 2) => {
      const frames = (
        await take(new SimulatorSource({ clock: fakeClock(start), rate: 300, faultProbability: 0 }), 3000)
      ).flat();
      const vals = frames
        .filter((f) => f.id === id)
        .map((f) => new DataView(f.data.buffer, f.data.byteOffset).getInt16(byte, true));
      return vals.reduce((a, b) => a + b, 0) / vals.length;
    };
    const dayT = (await mean(NOON, 0x101, 0)) / 100;
    const nightT = (await mean(MIDNIGHT, 0x101, 0)) / 100;
    expect(dayT - nightT).toBeGreaterThan(3);
    const dayCo2 = await mean(NOON, 0x103, 0);
    const nightCo2 = await mean(MIDNIGHT, 0x103, 0);
    expect(dayCo2 - nightCo2).toBeGreaterThan(200);
    const sim = new SimulatorSource();
    expect(sim.lightState('Flower Room', NOON).on).toBe(true);
    expect(sim.lightState('Flower Room', MIDNIGHT).on).toBe(false);
    expect(sim.lightState('Veg Room', Date.UTC(2024, 0, 15, 22, 30)).on).toBe(true);
  });

  it('injects PT100 faults, dry wicks and dropouts', async () => {
    const src = new SimulatorSource({
      clock: fakeClock(NOON),
      rate: 500,
      faultProbability: 0.05,
      dryWickProbability: 0.01,
      dropoutProbability: 0.002,
    });
    const frames = (await take(src, 6000)).flat();
    const pt100 = frames.filter((f) => (f.id & 0xff) === 0x01);
    const faulted = pt100.filter((f) => (f.data[4] as number) !== 0);
    expect(faulted.length).toBeGreaterThan(0);
    expect(faulted.every((f) => [1, 2].includes(f.data[4] as number))).toBe(true);
    const s = src.stats();
    expect(s.faults).toBe(faulted.length);
    expect(s.dryWickFrames).toBeGreaterThan(0);
    expect(s.dropped).toBeGreaterThan(0);
  });

  it('rejects bad options with a typed error', () => {
    expect(() => new SimulatorSource({ faultProbability: 2 })).toThrow(SourceError);
    expect(() => new SimulatorSource({ rate: -1 })).toThrow(SourceError);
  });
});

describe('socketcan through candump -L', () => {
  const lines = [
    '(1700000000.000100) can0 101#3309',
    'this is not a frame',
    '(1700000000.000200) can0 00000343#01',
    '(1700000000.000300) can0 20000004#0004000000000000',
    '(1700000000.000400) can0 123#R',
    '(1700000000.000500) can0 123##1AABB',
    '(1700000000.000600) can0 1G1#00',
  ];
  const writeLog = () => {
    const file = path.join(tempDir(), 'dump.log');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    return file;
  };

  it('fails clearly when the interface does not exist', async () => {
    const src = new SocketCanSource({ iface: 'can0', sysClassNet: tempDir() });
    await expect(take(src)).rejects.toMatchObject({ code: 'SOURCE_NO_INTERFACE' });
    await expect(take(new SocketCanSource({ iface: 'nosuch9' }))).rejects.toThrow(/does not exist/);
  });

  it('reports what candump says when the kernel cannot open the interface', async () => {
    const src = new SocketCanSource({ iface: 'nosuch9', checkInterface: false });
    const err = await take(src).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(['SOURCE_NO_SOCKETCAN', 'SOURCE_NO_INTERFACE', 'SOURCE_EXITED']).toContain((err as SourceError).code);
  });

  it('refuses an interface name that could be anything else', () => {
    expect(() => new SocketCanSource({ iface: 'can0; rm -rf /' })).toThrow(SourceError);
  });

  it('parses candump output through the same code path (cat as the command)', async () => {
    const file = writeLog();
    const sys = tempDir();
    fs.mkdirSync(path.join(sys, 'can0'));
    const bad: string[] = [];
    const src = new SocketCanSource({
      iface: 'can0',
      sysClassNet: sys,
      command: ['cat', file],
      onBadLine: (_l, e) => bad.push(e.code),
    });
    const frames = (await take(src)).flat();
    expect(frames.map((f) => f.id)).toEqual([0x101, 0x343, 0x123]);
    expect(frames[2]).toMatchObject({ fd: true, dlc: 2 });
    expect(bad).toEqual(['BAD_LINE', 'BAD_ID']);
    expect(src.stats()).toMatchObject({
      frames: 3,
      errorFrames: 1,
      remoteFrames: 1,
      badLines: { BAD_LINE: 1, BAD_ID: 1 },
    });
  });

  it('yields error and remote frames when asked', async () => {
    const src = new SocketCanSource({
      iface: 'can0',
      checkInterface: false,
      command: ['cat', writeLog()],
      includeErrorFrames: true,
      includeRemoteFrames: true,
    });
    const frames = (await take(src)).flat();
    expect(frames.filter((f) => f.error)).toHaveLength(1);
    expect(frames.filter((f) => f.rtr)).toHaveLength(1);
  });

  it('a command that exits with an error ends the iteration with SOURCE_EXITED after its frames', async () => {
    const file = writeLog();
    const src = new SocketCanSource({
      iface: 'can0',
      checkInterface: false,
      command: ['sh', '-c', `cat "${file}"; echo boom >&2; exit 3`],
    });
    const got: CanFrame[] = [];
    const err = await (async () => {
      for await (const b of src.batches()) got.push(...b);
    })().catch((e: unknown) => e);
    expect(got).toHaveLength(3);
    expect(err).toMatchObject({ code: 'SOURCE_EXITED' });
    expect(String((err as Error).message)).toMatch(/code 3: boom/);
  });

  it('a missing program is SOURCE_SPAWN', async () => {
    const src = new SocketCanSource({ iface: 'can0', checkInterface: false, command: ['no-such-candump-here'] });
    await expect(take(src)).rejects.toMatchObject({ code: 'SOURCE_SPAWN' });
  });

  it('close() stops a running candump', async () => {
    const src = new SocketCanSource({
      iface: 'can0',
      checkInterface: false,
      command: ['sh', '-c', 'while true; do echo "(1.0) can0 101#01"; sleep 0.01; done'],
    });
    const batches = await take(src, 3);
    expect(batches.flat().length).toBeGreaterThanOrEqual(3);
  });

  it('a pipe flushes partial batches and ends with its stream', async () => {
    const input = new PassThrough();
    const src = new PipeSource(input, { flushMs: 5, maxBatch: 100 });
    const it = src.batches()[Symbol.asyncIterator]();
    input.write('(1.0) can0 101#01\n(1.0) can0 102#02\n');
    const first = await it.next();
    expect((first.value as CanFrame[]).map((f) => f.id)).toEqual([0x101, 0x102]);
    input.end('(2.0) can0 103#03\n');
    const second = await it.next();
    expect((second.value as CanFrame[]).map((f) => f.id)).toEqual([0x103]);
    expect((await it.next()).done).toBe(true);
  });
});

describe('replay', () => {
  const writeLog = (n: number, stepMs: number) => {
    const file = path.join(tempDir(), 'capture.log');
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      out.push(formatCandumpLine(makeFrame(0x100 + (i % 16), [i & 0xff, i >> 8], 1_700_000_000_000 + i * stepMs)));
      if (i === 5) out.push('(bad line');
    }
    fs.writeFileSync(file, out.join('\n') + '\n');
    return file;
  };

  it('as fast as possible: every frame, in order, bad lines counted', async () => {
    const file = writeLog(2500, 1);
    const src = new ReplaySource({ path: file, maxBatch: 1000 });
    const batches = await take(src);
    const frames = batches.flat();
    expect(batches.map((b) => b.length)).toEqual([1000, 1000, 500]);
    expect(frames).toHaveLength(2500);
    expect(frames.map((f) => (f.data[0] as number) | ((f.data[1] as number) << 8))).toEqual(
      Array.from({ length: 2500 }, (_, i) => i),
    );
    expect(src.stats().badLines).toEqual({ BAD_LINE: 1 });
  });

  it('original timing divided by the speed factor, in order', async () => {
    const file = writeLog(50, 100); // 4.9 s of traffic
    const clock = fakeClock(5_000);
    const src = new ReplaySource({ path: file, speed: 2, clock, timestamps: 'now' });
    const frames = (await take(src)).flat();
    expect(frames).toHaveLength(50);
    expect(frames.map((f) => f.data[0])).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // Virtual time: the last frame was due 4.9 s / 2 after the start.
    expect(clock.t).toBe(5_000 + 2_450);
    expect((frames[1] as CanFrame).ts - (frames[0] as CanFrame).ts).toBe(50);
  });

  it('paced on the monotonic clock: a wall-clock step back mid-replay does not stall it; the stamps follow the step', async () => {
    const file = writeLog(50, 100); // 4.9 s of traffic
    const clock = fakeClock(5_000_000);
    const src = new ReplaySource({ path: file, speed: 1, clock, timestamps: 'now', maxBatch: 10 });
    const frames: CanFrame[] = [];
    for await (const b of src.batches()) {
      frames.push(...b);
      if (frames.length === 20) clock.t -= 3_600_000;
    }
    expect(frames).toHaveLength(50);
    expect(clock.m).toBe(4_900); // waited for the log's own timing only
    expect((frames[19] as CanFrame).ts).toBe(5_000_000 + 1_900);
    expect((frames[20] as CanFrame).ts).toBe(5_000_000 - 3_600_000 + 2_000);
  });

  it('a missing file is SOURCE_IO; a bad speed is SOURCE_CONFIG', async () => {
    await expect(take(new ReplaySource({ path: '/nonexistent/capture.log' }))).rejects.toMatchObject({
      code: 'SOURCE_IO',
    });
    expect(() => new ReplaySource({ path: 'x', speed: 0 })).toThrow(SourceError);
  });
});

describe('source specs', () => {
  it('parses the text forms', () => {
    expect(parseSourceSpec('simulator')).toEqual({ kind: 'simulator' });
    expect(parseSourceSpec('simulator:2000')).toEqual({ kind: 'simulator', options: { rate: 2000 } });
    expect(parseSourceSpec('simulator:saturated')).toEqual({ kind: 'simulator', options: { rate: 'saturated' } });
    expect(parseSourceSpec('socketcan:can0')).toEqual({ kind: 'socketcan', options: { iface: 'can0' } });
    expect(parseSourceSpec('replay:/tmp/x.log@10')).toEqual({
      kind: 'replay',
      options: { path: '/tmp/x.log', speed: 10 },
    });
    expect(parseSourceSpec('replay:/tmp/x.log')).toEqual({
      kind: 'replay',
      options: { path: '/tmp/x.log', speed: 'max' },
    });
    expect(() => parseSourceSpec('carrier-pigeon')).toThrow(SourceError);
    expect(() => parseSourceSpec('socketcan:')).toThrow(SourceError);
    expect(createFrameSource({ kind: 'simulator' }).kind).toBe('simulator');
  });
});
