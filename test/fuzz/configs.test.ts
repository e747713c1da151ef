import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parse as parseYaml, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/bus/errors.js';
import {
  CeaConfigError,
  loadNodeMap,
  loadSensorSettings,
  parseNodeMap,
  parseSensorSettings,
} from '../../src/cea/config.js';
import { loadAlertRules } from '../../src/services/alerts/index.js';
import { tempDir } from '../support/tmp.js';

/**
 * Fuzzing the YAML configuration an operator edits (nodes, sensors, alert
 * rules): a mistyped file is a CeaConfigError / ConfigError naming the
 * problem, never a TypeError from deep inside, and a YAML alias bomb is
 * refused without expanding it.
 */

const shipped = (name: string) => parseYaml(fs.readFileSync(path.resolve('config', name), 'utf8')) as unknown;

/** A YAML-ish value: scalars, lists and mappings, a few levels deep. */
const yamlValue = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 12 }), fc.boolean(), fc.constant(null)),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 10 }), tie('v'), { maxKeys: 4 }),
  ),
})).v;

/** A shipped document with one value somewhere replaced by a random one (keeps most of the shape right). */
function mutated(doc: unknown): fc.Arbitrary<unknown> {
  const paths: string[][] = [];
  const walk = (v: unknown, p: string[]) => {
    paths.push(p);
    if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(doc, []);
  return fc.tuple(fc.constantFrom(...paths), yamlValue).map(([p, value]) => {
    if (p.length === 0) return value;
    const copy = structuredClone(doc) as Record<string, unknown>;
    let at = copy;
    for (const k of p.slice(0, -1)) at = at[k] as Record<string, unknown>;
    at[p[p.length - 1]!] = value;
    return copy;
  });
}

const typed = (err: unknown) => err instanceof CeaConfigError || err instanceof ConfigError;

function outcome(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!typed(err)) throw err;
  }
}

describe('fuzz: YAML configuration files', () => {
  it('nodes.yaml: a node map or a CeaConfigError', () => {
    const doc = shipped('nodes.yaml');
    fc.assert(
      fc.property(fc.oneof(mutated(doc), yamlValue), (d) => outcome(() => parseNodeMap(d))),
      { numRuns: 1500 },
    );
  });

  it('sensors.yaml: sensor settings or a CeaConfigError', () => {
    const doc = shipped('sensors.yaml');
    fc.assert(
      fc.property(fc.oneof(mutated(doc), yamlValue), (d) => outcome(() => parseSensorSettings(d))),
      { numRuns: 1500 },
    );
  });

  it('alerts.yaml (through the file loader): rules or a ConfigError', () => {
    const dir = tempDir();
    const doc = shipped('alerts.yaml');
    let i = 0;
    fc.assert(
      fc.property(fc.oneof(mutated(doc), yamlValue), (d) => {
        const file = path.join(dir, `alerts-${i++}.yaml`);
        fs.writeFileSync(file, stringify(d));
        outcome(() => loadAlertRules(file));
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary text as YAML files: a result or a typed error from every loader', () => {
    const dir = tempDir();
    let i = 0;
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        const file = path.join(dir, `any-${i++}.yaml`);
        fs.writeFileSync(file, text);
        outcome(() => loadNodeMap(file));
        outcome(() => loadSensorSettings(file));
        outcome(() => loadAlertRules(file));
      }),
      { numRuns: 300 },
    );
  });

  it('a YAML alias bomb ("billion laughs") is refused without expanding it', () => {
    const dir = tempDir();
    const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let k = 1; k < 10; k++)
      lines.push(
        `a${k}: &a${k} [${Array(10)
          .fill(`*a${k - 1}`)
          .join(',')}]`,
      );
    lines.push('rules: *a9');
    const file = path.join(dir, 'bomb.yaml');
    fs.writeFileSync(file, lines.join('\n'));
    const before = process.memoryUsage().heapUsed;
    for (const load of [loadNodeMap, loadSensorSettings, loadAlertRules]) {
      let err: unknown;
      try {
        load(file);
      } catch (e) {
        err = e;
      }
      expect(typed(err)).toBe(true);
    }
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
  });
});
