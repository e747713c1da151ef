/** JSON schemas shared by routes (they also make the OpenAPI document). */

export const errorSchema = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    code: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

export const sensorSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    location: { type: 'string' },
    cluster: { type: 'string' },
    base: { type: 'string', description: 'e.g. dry_bulb' },
    kind: { type: 'string', description: 'e.g. air_temperature' },
    unit: { type: 'string' },
    min: { type: ['number', 'null'], description: 'lowest physically valid value' },
    max: { type: ['number', 'null'], description: 'highest physically valid value' },
    derived: { type: 'boolean', description: 'computed (rh, vpd), not measured' },
  },
} as const;

export const liveSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    location: { type: 'string' },
    cluster: { type: 'string' },
    unit: { type: 'string' },
    base: { type: 'string' },
    value: { type: ['number', 'null'] },
    ts: { type: ['integer', 'null'], description: 'unix ms of the reading' },
    ageMs: { type: ['integer', 'null'] },
    stale: { type: 'boolean', description: 'missing, or older than the stale limit' },
  },
} as const;

export const deviceSchema = {
  type: 'object',
  properties: {
    device: { type: 'string' },
    location: { type: 'string' },
    cluster: { type: 'string' },
    state: { type: 'number' },
    mode: { type: 'string' },
    timestamp: { type: 'string' },
    simulated: { type: 'boolean', description: 'true when the relay is simulated: nothing physical switches' },
    reason: { type: 'string', description: 'why the state is what it is (e.g. a failsafe), when given' },
  },
} as const;

export const roomSchema = {
  type: 'object',
  properties: {
    location: { type: 'string' },
    cluster: { type: 'string' },
    sensors: { type: 'array', items: liveSchema },
    devices: { type: 'array', items: deviceSchema },
  },
} as const;

/** `from`/`to` of every ranged query. */
export const timeParams = {
  from: {
    type: 'string',
    description: 'start: ISO-8601 or unix ms (default: `to` minus 24 h)',
  },
  to: { type: 'string', description: 'end: ISO-8601 or unix ms (default: now)' },
} as const;

export const errorResponses = {
  400: errorSchema,
  404: errorSchema,
  503: errorSchema,
} as const;
