import fs from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { ConfigError } from '../../bus/errors.js';
import { YamlSource, formatProblems, schemaProblems } from '../config-errors.js';
import { ALERT_RULES_DEFAULTS, validateRules, type AlertRulesConfig } from './engine.js';

/** The alert rules file (config/alerts.yaml) as a JSON schema; unknown keys refused. */
const Names = Type.Union([Type.Array(Type.String()), Type.Null()]);
const NonNegative = Type.Number({ minimum: 0 });

export const ThresholdRuleSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    /** A sensor name or a glob (`dry_bulb_*`, `co2_?`). */
    sensor: Type.String({ minLength: 1 }),
    above: Type.Optional(Type.Number()),
    below: Type.Optional(Type.Number()),
    for_s: Type.Optional(NonNegative),
    hysteresis: Type.Optional(NonNegative),
    severity: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const AlertRulesFileSchema = Type.Object(
  {
    stale_after_s: Type.Optional(NonNegative),
    stale_sensors: Type.Optional(Names),
    watch_services: Type.Optional(Names),
    reminder_interval_s: Type.Optional(NonNegative),
    system_severity: Type.Optional(Type.String()),
    rules: Type.Optional(Type.Union([Type.Array(ThresholdRuleSchema), Type.Null()])),
  },
  { additionalProperties: false },
);

type AlertRulesFile = Static<typeof AlertRulesFileSchema>;

/**
 * Reads and checks a rules file (an empty file: no rules, the defaults);
 * throws {@link ConfigError} listing every problem with its line.
 */
export function loadAlertRules(path: string): AlertRulesConfig {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read alert rules ${path}: ${(err as Error).message}`, { cause: err });
  }
  const yaml = YamlSource.parse(text, path);
  const fail = (problems: string[]) => new ConfigError(formatProblems(path, 'alert rules', problems));
  if ('problem' in yaml) throw fail([yaml.problem]);
  const doc = yaml.value ?? {};
  const shape = schemaProblems(AlertRulesFileSchema, doc, yaml);
  if (shape.length > 0) throw fail(shape);
  const d = doc as AlertRulesFile;
  const cfg: AlertRulesConfig = {
    rules: d.rules ?? [],
    stale_after_s: d.stale_after_s ?? ALERT_RULES_DEFAULTS.stale_after_s,
    stale_sensors: d.stale_sensors ?? [],
    watch_services: d.watch_services ?? [],
    reminder_interval_s: d.reminder_interval_s ?? ALERT_RULES_DEFAULTS.reminder_interval_s,
    system_severity: d.system_severity ?? ALERT_RULES_DEFAULTS.system_severity,
  };
  // what the schema cannot say (an id used twice, a rule with neither above nor below), at the rule's line
  const problems: string[] = [];
  const ids = new Set<string>();
  cfg.rules.forEach((r, i) => {
    const at = yaml.at(`/rules/${i}`);
    if (ids.has(r.id)) problems.push(`${at}rule id ${r.id} is used twice`);
    ids.add(r.id);
    for (const p of validateRules({ ...cfg, rules: [r] })) problems.push(at + p);
  });
  if (problems.length > 0) throw fail(problems);
  return cfg;
}
