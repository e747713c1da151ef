import { ConfigError } from '../bus/errors.js';

/**
 * Small typed readers of one environment variable each. Every read of a
 * variable in `src/config` names it literally (a property of `env`, or the
 * name as the second argument of a reader), so docs/configuration.md can be
 * checked against the code (test/config/configuration-doc.test.ts).
 */

/** The value, or undefined when unset or empty. */
export function text(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** A positive integer, `dflt` when unset or empty; anything else is a {@link ConfigError} naming the variable. */
export function positiveInt(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const v = text(env, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`${name} must be a positive integer, got "${v}"`);
  return n;
}

/** A switch: 1/true/on/yes or 0/false/off/no (any case), `dflt` when unset or empty; anything else is a {@link ConfigError}. */
export function flag(env: NodeJS.ProcessEnv, name: string, dflt: boolean): boolean {
  const v = text(env, name);
  if (v === undefined) return dflt;
  if (/^(1|true|on|yes)$/i.test(v)) return true;
  if (/^(0|false|off|no)$/i.test(v)) return false;
  throw new ConfigError(`${name} must be 1 or 0 (true/false, on/off, yes/no), got "${v}"`);
}

/** A finite number, or undefined when unset or empty. */
export function optionalNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = text(env, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`${name} must be a number, got "${v}"`);
  return n;
}

/** A comma-separated list (items trimmed, empty ones dropped). */
export function list(env: NodeJS.ProcessEnv, name: string, sep: string | RegExp = ','): string[] {
  return (env[name] ?? '')
    .split(sep)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
