// Every configuration file (nodes, sensors, devices, alert rules) is checked
// by a schema and reported in one style: the file, then one line per problem
// with its line number, the field and what was expected; unknown keys refused.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/bus/errors.js';
import { CeaConfigError, loadNodeMap, loadSensorSettings } from '../../src/cea/config.js';
import { YamlSource } from '../../src/cea/config-errors.js';
import { DeviceConfigError, parseDevicesYaml } from '../../src/cea/control/config.js';
import { loadAlertRules } from '../../src/cea/alerts/rules-file.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir();

function write(name: string, lines: string[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** The error a loader throws, checked for its type. */
function thrown<E extends Error>(type: new (...a: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected a ${type.name}`);
}

/** The problem lines of an error message in the shared style. */
function problemLines(message: string, file: string, what: string): string[] {
  const [head, ...rest] = message.split('\n');
  expect(head).toBe(`${file}: ${rest.length} problem(s) in the ${what} file:`);
  return rest.map((l) => l.replace(/^ {2}- /, ''));
}

describe('nodes.yaml', () => {
  it('lists every schema problem with its line and field; an unknown key is refused', () => {
    const file = write('nodes.yaml', [
      'messageTypes:', //     1
      '  0x01: PT100', //     2
      'nodes:', //            3
      '  - node: 1', //       4
      '    location: Room', // 5
      '    cluster: a', //    6
      '    colour: red', //   7
      '  - node: -2', //      8
      '    location: Lab', // 9
      '    cluster: ""', //   10
    ]);
    const err = thrown(CeaConfigError, () => loadNodeMap(file));
    expect(err.code).toBe('CEA_CONFIG');
    const lines = problemLines(err.message, file, 'node map');
    expect(lines).toEqual(err.problems);
    expect(lines).toContain('line 7: nodes[0] (1) has unknown field "colour"');
    expect(lines).toContain('line 8: nodes[1] (-2).node must be >= 0');
    expect(lines).toContain('line 10: nodes[1] (-2).cluster must NOT have fewer than 1 characters');
    expect(lines).toHaveLength(3);
  });

  it('reports what the schema cannot say at its line: a node listed twice', () => {
    const file = write('nodes-twice.yaml', [
      'nodes:',
      '  - { node: 1, location: Room, cluster: a }',
      '  - { node: 2, location: Room, cluster: b }',
      '  - { node: 1, location: Lab, cluster: c }',
    ]);
    const err = thrown(CeaConfigError, () => loadNodeMap(file));
    expect(err.problems).toEqual(['line 4: nodes[2].node: node 1 is listed twice']);
  });

  it('the shipped node map still loads', () => {
    expect(loadNodeMap(path.resolve('config/nodes.yaml')).nodes.length).toBeGreaterThan(0);
  });
});

describe('sensors.yaml', () => {
  it('names the line and field of a wrong type and of a misspelt key', () => {
    const file = write('sensors.yaml', [
      'kinds:', //                       1
      '  co2: { max: high }', //         2
      'calibraton:', //                  3
      '  co2_f: { offset: 3 }', //       4
      'psychrometer:', //                5
      '  pairWindowMs: -5', //           6
    ]);
    const err = thrown(CeaConfigError, () => loadSensorSettings(file));
    expect(problemLines(err.message, file, 'sensor settings')).toEqual([
      'line 2: kinds.co2.max must be number',
      'line 3: (top level) has unknown field "calibraton"',
      'line 6: psychrometer.pairWindowMs must be >= 0',
    ]);
  });

  it('collects the checks beyond the schema, each at its line', () => {
    const file = write('sensors-semantic.yaml', [
      'kinds:',
      '  soil: { unit: "%", min: 50, max: 10 }',
      'bases:',
      '  soil_moisture: moisture',
      'calibration:',
      '  co2_f: { gain: 0 }',
    ]);
    const err = thrown(CeaConfigError, () => loadSensorSettings(file));
    expect(err.problems).toEqual([
      'line 2: kinds.soil: min > max',
      'line 4: bases.soil_moisture: unknown kind moisture',
      'line 6: calibration.co2_f.gain must not be 0',
    ]);
  });

  it('an empty file keeps the shipped settings', () => {
    expect(loadSensorSettings(write('empty.yaml', ['# nothing']))).toEqual(loadSensorSettings());
  });
});

describe('devices.yaml', () => {
  it('gives lines to schema problems and to the checks beyond it', () => {
    const text = [
      'timeZone: Europe/Berlin', //                                         1
      'devices:', //                                                        2
      '  - name: heater_f', //                                              3
      '    location: Flower Room', //                                       4
      '    cluster: front', //                                              5
      '    kind: heater', //                                                6
      '    output: { address: 0x20, port: A, pin: 9 }', //                  7
      '    safeState: 0', //                                                8
      '    safety: { maxOnS: 7200, minOnS: 10, boost: 1 }', //              9
    ].join('\n');
    const err = thrown(DeviceConfigError, () => parseDevicesYaml(text, 'devices.yaml'));
    expect(problemLines(err.message, 'devices.yaml', 'devices')).toEqual([
      'line 7: devices[0] (heater_f).output.pin must be <= 7',
      'line 9: devices[0] (heater_f).safety has unknown field "boost"',
    ]);
    const semantic = text.replace('pin: 9', 'pin: 1').replace(', boost: 1', '').replace('Europe/Berlin', 'Mars/Base');
    expect(thrown(DeviceConfigError, () => parseDevicesYaml(semantic, 'devices.yaml')).problems).toEqual([
      'line 1: timeZone "Mars/Base" is not an IANA time zone (e.g. Europe/Berlin)',
    ]);
  });
});

describe('alerts.yaml', () => {
  it('refuses an unknown key and a negative duration, each at its line', () => {
    const file = write('alerts.yaml', [
      'stale_after_s: 120', //         1
      'rules:', //                     2
      '  - id: hot', //                3
      '    sensor: dry_bulb_*', //     4
      '    above: 30', //              5
      '    for_s: -1', //              6
      '  - id: cold', //               7
      '    sensor: dry_bulb_*', //     8
      '    threshold: 10', //          9
    ]);
    const err = thrown(ConfigError, () => loadAlertRules(file));
    expect(problemLines(err.message, file, 'alert rules')).toEqual([
      'line 6: rules[0] (hot).for_s must be >= 0',
      'line 9: rules[1] (cold) has unknown field "threshold"',
    ]);
  });

  it('reports a duplicate id and a rule with no limit at the rule', () => {
    const file = write('alerts-semantic.yaml', [
      'rules:',
      '  - { id: hot, sensor: a, above: 30 }',
      '  - { id: hot, sensor: b, above: 31 }',
      '  - { id: none, sensor: c }',
    ]);
    const err = thrown(ConfigError, () => loadAlertRules(file));
    expect(problemLines(err.message, file, 'alert rules')).toEqual([
      'line 3: rule id hot is used twice',
      'line 4: rule none: needs above or below',
    ]);
  });

  it('an empty file is no rules, with the defaults', () => {
    const cfg = loadAlertRules(write('alerts-empty.yaml', ['# none yet']));
    expect(cfg.rules).toEqual([]);
    expect(cfg.stale_after_s).toBe(120);
  });
});

describe('YAML positions', () => {
  it('finds the line of nested values, of a key without a value, and of the nearest parent of a missing one', () => {
    const y = YamlSource.parse(['a:', '  b:', '    - x', '    - y: 1', '  c:', 'd: 2'].join('\n'), 'f.yaml');
    if ('problem' in y) throw new Error(y.problem);
    expect(y.line('/a/b/1/y')).toBe(4);
    expect(y.line('/a/c')).toBe(5);
    expect(y.line('/a/b/7')).toBe(3);
    expect(y.line('/d')).toBe(6);
  });

  it('refuses a syntax error and an alias bomb as problems, not exceptions', () => {
    expect(YamlSource.parse('a: [', 'f.yaml')).toMatchObject({ problem: expect.stringMatching(/^not valid YAML/) });
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let k = 1; k < 6; k++)
      bomb.push(
        `a${k}: &a${k} [${Array(10)
          .fill(k === 1 ? '*a' : `*a${k - 1}`)
          .join(',')}]`,
      );
    expect(YamlSource.parse(bomb.join('\n'), 'f.yaml')).toMatchObject({ problem: expect.stringMatching(/alias/i) });
  });
});
