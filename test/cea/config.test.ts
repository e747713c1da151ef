import { describe, expect, it } from 'vitest';
import {
  CeaConfigError,
  loadSensorSettings,
  parseNodeMap,
  parseSensorSettings,
  resolvePipelinePaths,
} from '../../src/cea/config.js';
import { pipelinePathsEnv } from '../../src/config/pipeline.js';

const node = { node: 1, location: 'Room', cluster: 'a', suffix: 'x', messages: ['T'] };

describe('node map validation', () => {
  it('accepts a minimal map with defaults for the id scheme', () => {
    const m = parseNodeMap({ nodes: [node], messageTypes: { '0x01': 'T' } });
    expect(m.idScheme).toEqual({ nodeShift: 8, typeMask: 0xff });
    expect(m.messageTypes.get(1)).toBe('T');
    expect(m.psychrometer).toBeNull();
    expect(m.nodes[0]).toMatchObject({ suffix: 'x', sensors: {} });
  });

  it.each([
    ['not a mapping', 'nodes'],
    ['no nodes', { nodes: [] }],
    ['duplicate node', { nodes: [node, node] }],
    ['node without location', { nodes: [{ ...node, location: undefined }] }],
    ['negative node', { nodes: [{ ...node, node: -1 }] }],
    ['fault bit out of range', { nodes: [node], faults: { T: { signal: 'f', bits: { a: 40 } } } }],
    ['signal map not a mapping', { nodes: [node], signals: { T: 'oops' } }],
  ])('refuses %s with CeaConfigError', (_what, doc) => {
    expect(() => parseNodeMap(doc)).toThrow(CeaConfigError);
  });
});

describe('sensor settings', () => {
  it('merges a user file over the shipped defaults key by key', () => {
    const base = loadSensorSettings();
    const s = parseSensorSettings(
      { kinds: { co2: { max: 5000 } }, calibration: { co2_f: { offset: 12 } }, psychrometer: { coefficient: 0.0008 } },
      base,
    );
    expect(s.kinds.co2).toEqual({ ...base.kinds.co2, max: 5000 });
    expect(s.kinds.air_temperature).toEqual(base.kinds.air_temperature);
    expect(s.calibration.co2_f).toEqual({ offset: 12, gain: 1 });
    expect(s.psychrometer).toEqual({ ...base.psychrometer, coefficient: 0.0008 });
    expect(s.bases.dry_bulb).toBe('air_temperature');
  });

  it.each([
    ['min above max', { kinds: { k: { unit: 'x', min: 5, max: 1 } } }],
    ['unknown kind for a base', { bases: { foo: 'nope' } }],
    ['gain of zero', { calibration: { a: { gain: 0 } } }],
    ['absurd psychrometer coefficient', { psychrometer: { coefficient: 0.5 } }],
    ['non-numeric limit', { limits: { a: { max: 'high' } } }],
  ])('refuses %s', (_what, doc) => {
    expect(() => parseSensorSettings(doc, loadSensorSettings())).toThrow(CeaConfigError);
  });

  it('paths: option, else the environment (through the process configuration), else the shipped files', () => {
    const p = resolvePipelinePaths({
      ...pipelinePathsEnv({ CANOPY_NODES: '/n.yaml', CANOPY_DBC: '' }),
      dbcPath: '/x.dbc',
    });
    expect(p.dbcPath).toBe('/x.dbc');
    expect(p.nodesPath).toBe('/n.yaml');
    expect(p.sensorsPath).toMatch(/config[/\\]sensors\.yaml$/);
    // the domain itself reads no environment
    expect(resolvePipelinePaths({}).nodesPath).toMatch(/config[/\\]nodes\.yaml$/);
  });
});
