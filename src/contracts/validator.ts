import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { ValidationResult, Validator } from '../bus/validate.js';

/**
 * A bus {@link Validator} from a TypeBox schema, compiled once per call of
 * this function (no module-level state): the first error names the field
 * (`/sensor_data/rh_f Expected number`). `extra` runs after the schema for
 * what a schema cannot say (an ISO time that parses).
 */
export function schemaValidator<S extends TSchema>(
  schema: S,
  extra?: (value: Static<S>) => string | undefined,
): Validator<Static<S>> {
  const check = TypeCompiler.Compile(schema);
  return (value: unknown): ValidationResult<Static<S>> => {
    if (!check.Check(value)) {
      const first = check.Errors(value).First();
      return { ok: false, error: `${first?.path || '(root)'} ${first?.message ?? 'does not match the schema'}` };
    }
    const bad = extra?.(value);
    return bad === undefined ? { ok: true, value } : { ok: false, error: bad };
  };
}

/** `undefined` when `text` is a time `Date.parse` reads, else what is wrong. */
export function isoProblem(text: string): string | undefined {
  return Number.isNaN(Date.parse(text)) ? 'timestamp must be ISO-8601' : undefined;
}
