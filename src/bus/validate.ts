import type { Static, TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type Options as AjvOptions } from 'ajv';

/** The outcome of checking one message at the edge. */
export type ValidationResult<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Checks an already decoded value. The bus does not care what the schemas
 * are: anything that returns this shape can guard a subscription.
 */
export type Validator<T> = (value: unknown) => ValidationResult<T>;

/** Accepts anything (the default when a subscription has no schema). */
export const acceptAll: Validator<unknown> = (value) => ({ ok: true, value });

/**
 * A validator for a TypeBox schema, compiled once by Ajv. Pass your own Ajv
 * instance to share compiled schemas or add formats; by default a private
 * one with `allErrors: false` and `strict: false` (TypeBox adds keywords
 * such as `kind` that strict mode refuses).
 */
export function typeboxValidator<S extends TSchema>(schema: S, ajv?: Ajv): Validator<Static<S>> {
  return ajvValidator<Static<S>>(schema, ajv);
}

/** A validator for any JSON Schema object, compiled once by Ajv. */
export function ajvValidator<T>(schema: object, ajv: Ajv = createAjv()): Validator<T> {
  const check = ajv.compile(schema);
  return (value) => {
    if (check(value)) return { ok: true, value: value as T };
    return { ok: false, error: formatAjvErrors(check.errors) };
  };
}

/** An Ajv instance with the options the bus validators expect. */
export function createAjv(options: AjvOptions = {}): Ajv {
  return new Ajv({ allErrors: false, strict: false, ...options });
}

/** `"/sensor_data/rh_f must be number"`, errors joined by `; `. */
export function formatAjvErrors(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'does not match the schema';
  return errors.map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`).join('; ');
}
