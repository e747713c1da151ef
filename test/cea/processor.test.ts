import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFrame, type CanFrame } from '../../src/can/frame.js';
import { encodePressure, encodePt100, encodeScd30, encodeWater } from '../../src/can/protocol.js';
import { SimulatorSource, type Clock } from '../../src/can/sources/index.js';
import { calibrate, uncalibrate } from '../../src/cea/calibration.js';
import { loadSensorCatalogue, SensorCatalogue } from '../../src/cea/catalogue.js';
import { CeaConfigError, loadPipelineConfig, parseSensorSettings, type PipelineConfig } from '../../src/cea/config.js';
import { FrameProcessor } from '../../src/cea/processor.js';
import { relativeHumidity } from '../../src/cea/psychrometrics.js';
import type { ProcessorEntry } from '../../src/cea/types.js';
import { checkRange, isDryWick, RateTracker } from '../../src/cea/validation.js';
import { tempDir } from '../support/tmp.js';
import { pipelinePathsEnv } from '../../src/config/pipeline.js';

const T0 = Date.UTC(2024, 0, 15, 12, 0, 0);
const base = loadPipelineConfig({});
let seq = 0;
const entries = (...frames: CanFrame[]): ProcessorEntry[] => frames.map((frame) => ({ streamId: `${seq++}-0`, frame }));
const withSettings = (doc: unknown): PipelineConfig => ({ ...base, sensors: parseSensorSettings(doc, base.sensors) });

describe('sensor catalogue', () => {
  it('has exactly the sensor names of the default protocol with location, cluster, unit and limits', () => {
    const cat = new SensorCatalogue(base.nodeMap, base.sensors);
    const want = ['f', 'b', 'v'].flatMap((x) =>
      ['dry_bulb', 'wet_bulb', 'co2', 'secondary_temp', 'secondary_rh', 'pressure', 'rh', 'vpd'].map(
        (b) => `${b}_${x}`,
      ),
    );
    expect(cat.names().sort()).toEqual([...want, 'lab_temp', 'water_temp'].sort());
    expect(cat.get('dry_bulb_b')).toMatchObject({
      location: 'Flower Room',
      cluster: 'back',
      kind: 'air_temperature',
      unit: '°C',
      min: -40,
      max: 85,
      derived: false,
      source: { messageType: 'PT100', signal: 'temp_dry_c' },
    });
    expect(cat.get('rh_v')).toMatchObject({ location: 'Veg Room', cluster: 'main', derived: true, unit: '%' });
    expect(cat.get('lab_temp')).toMatchObject({ location: 'Lab', cluster: 'main' });
    expect(cat.at('Flower Room')).toHaveLength(16);
    expect(loadSensorCatalogue({}).names()).toEqual(cat.names());
  });
});

describe('calibration and validation primitives', () => {
  it('calibrates with gain and offset, exactly for identity', () => {
    expect(calibrate(23.55, { offset: 0.1, gain: 1 })).toBe(23.65);
    expect(calibrate(20, { offset: -1, gain: 1.05 })).toBe(20);
    expect(calibrate(23.55, { offset: 0, gain: 1 })).toBe(23.55);
    expect(uncalibrate(calibrate(12.34, { offset: 0.5, gain: 0.98 }), { offset: 0.5, gain: 0.98 })).toBeCloseTo(
      12.34,
      6,
    );
  });

  it('checks range inclusively and rejects non-finite values', () => {
    expect(checkRange(85, { min: -40, max: 85 })).toBeNull();
    expect(checkRange(85.01, { min: -40, max: 85 })).toBe('range');
    expect(checkRange(-40.5, { min: -40, max: 85 })).toBe('range');
    expect(checkRange(Number.NaN, { min: 0, max: 1 })).toBe('not_finite');
  });

  it('dry wick: wet above dry by more than 0.3 °C', () => {
    expect(isDryWick(24, 24.3)).toBe(false);
    expect(isDryWick(24, 24.31)).toBe(true);
    expect(isDryWick(24, 18)).toBe(false);
  });

  it('rate tracker: window, rejection and reset after a real step', () => {
    const r = new RateTracker();
    const o = { maxRatePerSecond: 2, minWindowS: 1, resetAfter: 3 };
    expect(r.check(20, 0, o)).toBeNull(); // first reading
    r.accept(20, 0);
    expect(r.check(21.9, 500, o)).toBeNull(); // within the 1 s minimum window
    expect(r.check(30, 1000, o)).toBe('rate');
    expect(r.check(30, 10_000, o)).toBeNull(); // 10 °C in 10 s is 1 °C/s
    for (let i = 0; i < 3; i++) {
      expect(r.check(40, 1000 + i, o)).toBe('rate');
      r.reject();
    }
    expect(r.check(40, 1004, o)).toBeNull(); // a real step after three rejections
  });
});

describe('FrameProcessor', () => {
  it('dry wick rejects the wet bulb, rh and vpd; the dry bulb and the raw frame stay', () => {
    const p = new FrameProcessor(base);
    const r = p.process(entries(encodePt100(1, 24, 24.8, 0, T0)));
    expect(r.messages).toHaveLength(1);
    expect(r.readings.map((x) => x.sensor)).toEqual(['dry_bulb_f']);
    expect(r.rejected.map((x) => [x.sensor, x.reason])).toEqual([
      ['wet_bulb_f', 'dry_wick'],
      ['rh_f', 'dry_wick'],
      ['vpd_f', 'dry_wick'],
    ]);
    expect(r.rejected[0]?.value).toBe(24.8);
    expect(p.rejections.get('wet_bulb_f', 'dry_wick')).toBe(1);
    // Within the margin: accepted, RH clamped to 100.
    const ok = p.process(entries(encodePt100(1, 24, 24.2, 0, T0 + 1000)));
    expect(Object.fromEntries(ok.readings.map((x) => [x.sensor, x.value]))).toMatchObject({ rh_f: 100, vpd_f: 0 });
    expect(p.stats().clamped).toBe(1);
  });

  it('rate of change: a jump is rejected and counted, later plausible values pass', () => {
    const p = new FrameProcessor(base);
    p.process(entries(encodeScd30(3, 800, 24, 60, T0)));
    const jump = p.process(entries(encodeScd30(3, 800, 34, 60, T0 + 1000)));
    expect(jump.rejected).toEqual([
      { streamId: expect.any(String), time: T0 + 1000, sensor: 'secondary_temp_v', reason: 'rate', value: 34 },
    ]);
    expect(jump.readings.map((x) => x.sensor).sort()).toEqual(['co2_v', 'secondary_rh_v']);
    const back = p.process(entries(encodeScd30(3, 810, 24.5, 60, T0 + 2000)));
    expect(back.readings.find((x) => x.sensor === 'secondary_temp_v')?.value).toBe(24.5);
    expect(p.stats().rejected.bySensor).toEqual({ secondary_temp_v: { rate: 1 } });
  });

  it('physical range: a CO2 reading above the kind limit is rejected', () => {
    const p = new FrameProcessor(base);
    const r = p.process(entries(encodeScd30(1, 20_000, 24, 60, T0)));
    expect(r.rejected.map((x) => [x.sensor, x.reason, x.value])).toEqual([['co2_f', 'range', 20_000]]);
  });

  it('applies calibration from the settings before validation, per sensor', () => {
    const cfg = withSettings({
      calibration: { dry_bulb_f: { offset: -0.5, gain: 1 }, water_temp: { offset: 0, gain: 2 } },
      limits: { water_temp: { max: 30 } },
    });
    const p = new FrameProcessor(cfg);
    const r = p.process(entries(encodePt100(1, 24, 18, 0, T0), encodeWater(4, 19.5, T0)));
    const v = Object.fromEntries(r.readings.map((x) => [x.sensor, x.value]));
    expect(v.dry_bulb_f).toBe(23.5);
    // Derived RH uses the calibrated dry bulb.
    expect(v.rh_f).toBeCloseTo(relativeHumidity(23.5, 18, 101.325).rh, 2);
    // 19.5 × 2 = 39 > 30: rejected by the sensor's own limit.
    expect(r.rejected).toEqual([expect.objectContaining({ sensor: 'water_temp', reason: 'range', value: 39 })]);
    expect(r.messages[1]?.decodedData).toEqual({ water_temp_c: 19.5 });
  });

  it('derived rh uses the room pressure, shared by both Flower Room nodes, and the coefficient', () => {
    const p = new FrameProcessor(base);
    const before = p.process(entries(encodePt100(1, 25, 20, 0, T0)));
    expect(before.readings.find((x) => x.sensor === 'rh_f')?.value).toBeCloseTo(63.21, 1);
    // Node 2 (Flower Room back) reports 880 hPa; node 1's next RH uses it.
    p.process(entries(encodePressure(2, 880, T0 + 500)));
    expect(p.roomPressureKpa('Flower Room')).toBeCloseTo(88, 6);
    expect(p.roomPressureKpa('Veg Room')).toBeUndefined();
    const after = p.process(entries(encodePt100(1, 25, 20, 0, T0 + 1000)));
    expect(after.readings.find((x) => x.sensor === 'rh_f')?.value).toBeCloseTo(relativeHumidity(25, 20, 88).rh, 2);
    const veg = p.process(entries(encodePt100(3, 25, 20, 0, T0 + 1000)));
    expect(veg.readings.find((x) => x.sensor === 'rh_v')?.value).toBeCloseTo(63.21, 1);
    const coarse = new FrameProcessor(withSettings({ psychrometer: { coefficient: 0.0012 } }));
    const rc = coarse.process(entries(encodePt100(1, 25, 20, 0, T0)));
    expect(rc.readings.find((x) => x.sensor === 'rh_f')?.value).toBeCloseTo(
      relativeHumidity(25, 20, 101.325, 0.0012).rh,
      2,
    );
  });

  it('one update per location/cluster per batch with the latest values', () => {
    const p = new FrameProcessor(base);
    const r = p.process(
      entries(
        encodeScd30(1, 800, 24, 60, T0),
        encodeScd30(2, 820, 23, 61, T0 + 10),
        encodeScd30(1, 805, 24.1, 60.5, T0 + 20),
        encodeWater(4, 19.5, T0 + 30),
      ),
    );
    expect(r.updates).toEqual([
      {
        location: 'Flower Room',
        cluster: 'front',
        sensor_data: { co2_f: 805, secondary_temp_f: 24.1, secondary_rh_f: 60.5 },
        timestamp: T0 + 20,
      },
      {
        location: 'Flower Room',
        cluster: 'back',
        sensor_data: { co2_b: 820, secondary_temp_b: 23, secondary_rh_b: 61 },
        timestamp: T0 + 10,
      },
      { location: 'Lab', cluster: 'main', sensor_data: { water_temp: 19.5 }, timestamp: T0 + 30 },
    ]);
    expect(r.readings).toHaveLength(10);
  });

  it('error and remote frames are stored as UNKNOWN, never decoded', () => {
    const p = new FrameProcessor(base);
    const r = p.process(
      entries(
        makeFrame(0x101, [], T0, { rtr: true, dlc: 5 }),
        makeFrame(0x4, new Uint8Array(8), T0, { error: true, extended: true }),
      ),
    );
    expect(r.messages.map((m) => m.messageType)).toEqual(['UNKNOWN', 'UNKNOWN']);
    expect(r.readings).toEqual([]);
  });

  it('loads a user DBC and node map from the environment', () => {
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, 'my.dbc'),
      'BO_ 2566868993 Greenhouse: 4 GH\n SG_ air : 7|16@0- (0.1,0) [-50|80] "degC" X\n SG_ soil : 23|16@0- (0.1,0) [-50|80] "degC" X\n',
    );
    fs.writeFileSync(
      path.join(dir, 'nodes.yaml'),
      [
        'idScheme: { nodeShift: 8, typeMask: 255 }',
        'messageTypes: { 1: CLIMATE }',
        'signals:',
        '  CLIMATE: { air: dry_bulb, soil: soil_temp }',
        'nodes:',
        '  - { node: 0x18FF50, location: Greenhouse, cluster: east, suffix: e, messages: [CLIMATE] }',
      ].join('\n'),
    );
    const cfg = loadPipelineConfig(
      pipelinePathsEnv({ CANOPY_DBC: path.join(dir, 'my.dbc'), CANOPY_NODES: path.join(dir, 'nodes.yaml') }),
    );
    const p = new FrameProcessor(cfg);
    // air = 0x00EB = 23.5 °C big-endian, soil = 0xFF9C = -10.0 °C
    const r = p.process(entries(makeFrame(0x18ff5001, [0x00, 0xeb, 0xff, 0x9c], T0, { extended: true })));
    expect(r.messages[0]).toMatchObject({
      messageType: 'CLIMATE',
      nodeId: 0x18ff50,
      decodedData: { air: 23.5, soil: -10 },
    });
    expect(r.readings.map((x) => [x.sensor, x.value, x.location, x.cluster])).toEqual([
      ['dry_bulb_e', 23.5, 'Greenhouse', 'east'],
      ['soil_temp_e', -10, 'Greenhouse', 'east'],
    ]);
    expect(() => loadPipelineConfig({ nodesPath: path.join(dir, 'missing.yaml') })).toThrow(CeaConfigError);
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'nodes: []\n');
    expect(() => loadPipelineConfig({ nodesPath: path.join(dir, 'bad.yaml') })).toThrow(/non-empty/);
  });

  it('end to end on simulated frames: every frame stored, readings plausible, faults rejected', async () => {
    const clock: Clock & { t: number } = {
      t: T0,
      now: () => clock.t,
      monotonic: () => clock.t - T0,
      sleep: async (ms: number) => {
        clock.t += ms;
      },
    };
    const sim = new SimulatorSource({ seed: 3, clock, rate: 300, faultProbability: 0.01, dryWickProbability: 0 });
    const p = new FrameProcessor(base);
    let frames = 0;
    let stored = 0;
    const values = new Map<string, number[]>();
    const updates: string[] = [];
    for await (const batch of sim.batches()) {
      const r = p.process(entries(...batch));
      frames += batch.length;
      stored += r.messages.length;
      for (const x of r.readings) values.set(x.sensor, [...(values.get(x.sensor) ?? []), x.value]);
      for (const u of r.updates) updates.push(`${u.location}/${u.cluster}`);
      if (frames >= 9000) break;
    }
    await sim.close();
    expect(stored).toBe(frames);
    expect(p.stats().unknown).toBe(0);
    // Every catalogue sensor produced readings.
    expect([...values.keys()].sort()).toEqual(p.catalogue.names().sort());
    const mean = (s: string) =>
      (values.get(s) as number[]).reduce((a, b) => a + b, 0) / (values.get(s) as number[]).length;
    expect(mean('dry_bulb_f')).toBeGreaterThan(24); // lights on at noon
    expect(mean('rh_f')).toBeGreaterThan(45);
    expect(mean('rh_f')).toBeLessThan(70);
    expect(mean('vpd_f')).toBeGreaterThan(0.8);
    expect(mean('pressure_v')).toBeGreaterThan(1000);
    // The injected faults were rejected as faults, and nothing read 327.67 °C.
    expect(p.stats().rejected.byReason.fault).toBe(sim.stats().faults);
    expect(Math.max(...(values.get('dry_bulb_b') as number[]))).toBeLessThan(40);
    expect(new Set(updates)).toEqual(new Set(['Flower Room/front', 'Flower Room/back', 'Veg Room/main', 'Lab/main']));
  });
});
