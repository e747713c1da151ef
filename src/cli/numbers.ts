import { InvalidArgumentError } from 'commander';

/** What a numeric command-line option accepts. */
export interface NumberRule {
  /** @defaultValue false — whole numbers only. */
  integer: boolean;
  /** @defaultValue -Infinity */
  min: number;
  /** @defaultValue Infinity */
  max: number;
}

const RULE_DEFAULTS: NumberRule = { integer: false, min: -Infinity, max: Infinity };

/**
 * Checks one numeric command-line value: the text must be a plain decimal
 * number (no `12abc`, no empty string, no `0x10`, no `1e3`) within the rule.
 * Throws commander's `InvalidArgumentError`, which commander reports as
 * `error: option '--port <port>' argument 'abc' is invalid. <why>` and exits 1.
 */
export function parseNumber(text: string, rule: Partial<NumberRule> = {}): number {
  const r = { ...RULE_DEFAULTS, ...rule };
  const t = text.trim();
  const pattern = r.integer ? /^[-+]?\d+$/ : /^[-+]?(\d+\.?\d*|\.\d+)$/;
  const n = Number(t);
  if (!pattern.test(t) || !Number.isFinite(n))
    throw new InvalidArgumentError(`"${text}" is not ${r.integer ? 'a whole number' : 'a number'}.`);
  if (n < r.min || n > r.max) {
    const range =
      r.max === Infinity ? `at least ${r.min}` : r.min === -Infinity ? `at most ${r.max}` : `${r.min} to ${r.max}`;
    throw new InvalidArgumentError(`${text} is out of range: it must be ${range}.`);
  }
  return n;
}

/** A commander argument parser for {@link parseNumber} with `rule` (one helper for every numeric option). */
export function numberOption(rule: Partial<NumberRule> = {}): (text: string) => number {
  return (text: string) => parseNumber(text, rule);
}

/** TCP port 1–65535 (`--port`, `--redis-port`). */
export const portOption = numberOption({ integer: true, min: 1, max: 65535 });
/** TCP port 0–65535 (0: any free port). */
export const portOrZeroOption = numberOption({ integer: true, min: 0, max: 65535 });
/** A whole number ≥ 1 (counts, batch sizes). */
export const positiveIntOption = numberOption({ integer: true, min: 1 });
/** A whole number ≥ 0. */
export const countOption = numberOption({ integer: true, min: 0 });
