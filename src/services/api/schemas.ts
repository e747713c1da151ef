import { Type, type Static, type TSchema, type SchemaOptions } from '@sinclair/typebox';
import { DeviceUpdateSchema } from '../../contracts/updates.js';

/**
 * TypeBox schemas shared by routes: with fastify's TypeBox type provider
 * they type the handlers and make the OpenAPI document, from one source.
 */

/** `{"type": ["number", "null"]}`: a value or null (kept in this form so the OpenAPI document reads simply). */
export function Nullable<T extends TSchema & { type: string }>(schema: T): TSchema & { static: Static<T> | null } {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
}

/** A string of one of `values`, as a JSON Schema `enum` (the API's error text names them). */
export function StringEnum<const V extends readonly string[]>(values: V, options: SchemaOptions = {}) {
  return Type.Unsafe<V[number]>({ ...options, type: 'string', enum: [...values] });
}

export const errorSchema = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  code: Type.Optional(Type.String()),
  message: Type.String(),
});

export const sensorSchema = Type.Object({
  name: Type.String(),
  label: Type.String({ description: 'friendly name (config/sensors.yaml labels:), else the name' }),
  location: Type.String(),
  cluster: Type.String(),
  base: Type.String({ description: 'e.g. dry_bulb' }),
  kind: Type.String({ description: 'e.g. air_temperature' }),
  unit: Type.String(),
  min: Nullable(Type.Number({ description: 'lowest physically valid value' })),
  max: Nullable(Type.Number({ description: 'highest physically valid value' })),
  derived: Type.Boolean({ description: 'computed (rh, vpd), not measured' }),
});

export const liveSchema = Type.Object({
  name: Type.String(),
  location: Type.String(),
  cluster: Type.String(),
  unit: Type.String(),
  base: Type.String(),
  value: Nullable(Type.Number()),
  ts: Nullable(Type.Integer({ description: 'unix ms of the reading' })),
  ageMs: Nullable(Type.Integer()),
  stale: Type.Boolean({ description: 'missing, or older than the stale limit' }),
});

/** One bucket of a sensor's downsampled history. */
export const historyBucketSchema = Type.Object({
  t: Type.Integer({ description: 'bucket start, unix ms' }),
  min: Type.Number(),
  max: Type.Number(),
  avg: Type.Number(),
  count: Type.Integer(),
});

/** A device's latest `device:update` (the contract's message). */
export const deviceSchema = DeviceUpdateSchema;

/** `from`/`to` of every ranged query. */
export const timeParams = {
  from: Type.Optional(Type.String({ description: 'start: ISO-8601 or unix ms (default: `to` minus 24 h)' })),
  to: Type.Optional(Type.String({ description: 'end: ISO-8601 or unix ms (default: now)' })),
};

export const errorResponses = {
  400: errorSchema,
  404: errorSchema,
  503: errorSchema,
} as const;
