import { describe, expect, it } from 'vitest';
import { makeFrame, parseStreamFields, type CanFrame } from '../../src/can/frame.js';
import { encodePt100, encodeScd30 } from '../../src/can/protocol.js';
import { loadPipelineConfig } from '../../src/cea/config.js';
import { FrameProcessor } from '../../src/cea/processor.js';

/** The default sensor-node protocol (docs/pipeline.md): bytes → decoded_data → sensor names and values, through the shipped files. */

const T0 = 1_700_000_000_000;
const frame = (id: string, data: string, ts = T0): CanFrame => {
  const f = parseStreamFields({ id, data, ts: String(ts), dlc: String(data ? data.split(' ').length : 0) });
  if (f instanceof Error) throw f;
  return f;
};
const run = (p: FrameProcessor, f: CanFrame, streamId = '1-0') => p.process([{ streamId, frame: f }]);
const readingMap = (r: ReturnType<FrameProcessor['process']>) =>
  Object.fromEntries(r.readings.map((x) => [x.sensor, x.value]));

describe('default protocol (config/canopy.dbc + config/nodes.yaml)', () => {
  const config = loadPipelineConfig({});

  it('ships 24 messages: six types for each of four nodes, ids node << 8 | type', () => {
    const ids = config.dbc.messages.map((m) => m.id).sort((a, b) => a - b);
    const want = [1, 2, 3, 4].flatMap((n) => [1, 2, 3, 5, 6, 15].map((t) => (n << 8) | t));
    expect(ids).toEqual(want.sort((a, b) => a - b));
    expect(config.dbc.messages.every((m) => !m.extended)).toBe(true);
  });

  it('PT100 0x101: dry 23.55, wet 18.20, no fault → dry_bulb_f, wet_bulb_f, rh_f, vpd_f', () => {
    const p = new FrameProcessor(config);
    // 2355 = 0x0933, 1820 = 0x071C
    const r = run(p, frame('0x101', '33 09 1C 07 00'));
    expect(r.messages[0]).toMatchObject({
      canId: 0x101,
      nodeId: 1,
      messageType: 'PT100',
      dlc: 5,
      rawData: '33 09 1C 07 00',
      decodedData: { temp_dry_c: 23.55, temp_wet_c: 18.2, fault: 0 },
    });
    const v = readingMap(r);
    expect(v.dry_bulb_f).toBe(23.55);
    expect(v.wet_bulb_f).toBe(18.2);
    expect(v.rh_f).toBeCloseTo(59.4, 0);
    expect(v.vpd_f).toBeGreaterThan(1.0);
    expect(r.readings.every((x) => x.location === 'Flower Room' && x.cluster === 'front')).toBe(true);
    expect(r.updates).toEqual([{ location: 'Flower Room', cluster: 'front', sensor_data: v, timestamp: T0 }]);
  });

  it('PT100 negative temperatures decode as signed int16', () => {
    const p = new FrameProcessor(config);
    // -5.25 = -525 = 0xFDF3; -7.00 = -700 = 0xFD44
    const r = run(p, frame('0x201', 'F3 FD 44 FD 00'));
    expect(r.messages[0]?.decodedData).toEqual({ temp_dry_c: -5.25, temp_wet_c: -7, fault: 0 });
    expect(readingMap(r)).toMatchObject({ dry_bulb_b: -5.25, wet_bulb_b: -7 });
    expect(r.messages[0]?.nodeId).toBe(2);
  });

  it('PT100 fault bits reject the faulted bulb and the derived readings, but keep the raw frame', () => {
    const p = new FrameProcessor(config);
    const dryFault = run(p, encodePt100Frame(3, 850, 18, 0x01));
    expect(dryFault.messages[0]?.decodedData).toMatchObject({ fault: 1 });
    expect(readingMap(dryFault)).toEqual({ wet_bulb_v: 18 });
    expect(dryFault.rejected.map((x) => [x.sensor, x.reason])).toEqual([
      ['dry_bulb_v', 'fault'],
      ['rh_v', 'input_rejected'],
      ['vpd_v', 'input_rejected'],
    ]);
    const both = run(new FrameProcessor(config), encodePt100Frame(3, 24, 18, 0x03));
    expect(both.readings).toEqual([]);
    expect(both.updates).toEqual([]);
    expect(both.messages).toHaveLength(1);
    expect(both.rejected.filter((x) => x.reason === 'fault').map((x) => x.sensor)).toEqual([
      'dry_bulb_v',
      'wet_bulb_v',
    ]);
  });

  it('PRESSURE 0x102: 1013.2 hPa → pressure_f', () => {
    const r = run(new FrameProcessor(config), frame('0x102', '94 27')); // 10132 = 0x2794
    expect(r.messages[0]).toMatchObject({ messageType: 'PRESSURE', decodedData: { pressure_hpa: 1013.2 } });
    expect(readingMap(r)).toEqual({ pressure_f: 1013.2 });
  });

  it('SCD30 0x303: CO2 812 ppm, 23.10 °C, 58.00 % → co2_v, secondary_temp_v, secondary_rh_v', () => {
    // 812 = 0x032C, 2310 = 0x0906, 5800 = 0x16A8
    const r = run(new FrameProcessor(config), frame('0x303', '2C 03 06 09 A8 16'));
    expect(r.messages[0]).toMatchObject({
      messageType: 'SCD30',
      nodeId: 3,
      decodedData: { co2_ppm: 812, temp_c: 23.1, rh_pct: 58 },
    });
    expect(readingMap(r)).toEqual({ co2_v: 812, secondary_temp_v: 23.1, secondary_rh_v: 58 });
    expect(r.updates[0]).toMatchObject({ location: 'Veg Room', cluster: 'main' });
  });

  it('SCD30 negative temperature', () => {
    const r = run(new FrameProcessor(config), encodeScd30Frame(1, 450, -12.5, 80));
    expect(r.messages[0]?.decodedData).toEqual({ co2_ppm: 450, temp_c: -12.5, rh_pct: 80 });
  });

  it('WATER 0x405: 19.5 °C → water_temp (lab, no suffix)', () => {
    const r = run(new FrameProcessor(config), frame('0x405', '9E 07')); // 1950
    expect(r.messages[0]).toMatchObject({ messageType: 'WATER', nodeId: 4, decodedData: { water_temp_c: 19.5 } });
    expect(r.readings).toEqual([
      { streamId: '1-0', time: T0, sensor: 'water_temp', value: 19.5, location: 'Lab', cluster: 'main' },
    ]);
  });

  it('LAB 0x406: -1.5 °C → lab_temp', () => {
    const r = run(new FrameProcessor(config), frame('0x406', '6A FF')); // -150 = 0xFF6A
    expect(r.messages[0]).toMatchObject({ messageType: 'LAB', decodedData: { lab_temp_c: -1.5 } });
    expect(readingMap(r)).toEqual({ lab_temp: -1.5 });
  });

  it('STATUS 0x10F: uptime and error flags are decoded but are not sensor readings', () => {
    // 86400 s = 0x00015180, errors 0x05
    const r = run(new FrameProcessor(config), frame('0x10F', '80 51 01 00 05'));
    expect(r.messages[0]).toMatchObject({ messageType: 'STATUS', decodedData: { uptime_s: 86400, errors: 5 } });
    expect(r.readings).toEqual([]);
  });

  it('unknown ids are stored as UNKNOWN with the raw bytes', () => {
    const p = new FrameProcessor(config);
    const r = p.process([
      { streamId: '1-0', frame: frame('0x104', '01 02') },
      { streamId: '1-1', frame: frame('0x7FF', '') },
      { streamId: '1-2', frame: makeFrame(0x101, [0x33, 0x09], T0, { extended: true }) },
    ]);
    expect(r.messages.map((m) => [m.messageType, m.nodeId, m.decodedData, m.rawData])).toEqual([
      ['UNKNOWN', 1, null, '01 02'],
      ['UNKNOWN', null, null, ''],
      ['UNKNOWN', 1, null, '33 09'],
    ]);
    expect(r.readings).toEqual([]);
    expect(p.stats().unknown).toBe(3);
  });

  it('a frame shorter than the DBC message keeps what fits', () => {
    const p = new FrameProcessor(config);
    const r = run(p, frame('0x101', '33 09'));
    expect(r.messages[0]?.decodedData).toEqual({ temp_dry_c: 23.55 });
    expect(readingMap(r)).toEqual({ dry_bulb_f: 23.55 });
    expect(p.stats().truncated).toBe(1);
  });
});

function encodePt100Frame(node: number, dry: number, wet: number, fault: number): CanFrame {
  return encodePt100(node, dry, wet, fault, T0);
}
function encodeScd30Frame(node: number, co2: number, t: number, rh: number): CanFrame {
  return encodeScd30(node, co2, t, rh, T0);
}
