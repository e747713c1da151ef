import { ACTUATORS_COMMANDS, AUTOMATION_STATE } from '../../../contracts/names.js';
import crypto from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { ApiApp } from '../app.js';
import { CommandParser } from '../../../cea/control/commands.js';
import { requireRole, bearerToken } from '../auth.js';
import { ApiError, withRedis, type ApiContext } from '../context.js';
import { errorResponses, errorSchema, Nullable, StringEnum } from '../schemas.js';

/** Where control commands go: the durable command stream the automation consumes. */
const COMMAND_STREAM = ACTUATORS_COMMANDS;
const STATE_KEY = AUTOMATION_STATE;

const acceptedSchema = Type.Object({
  accepted: Type.Boolean(),
  id: Type.String({ description: 'entry id in actuators:commands' }),
  command: Type.Record(Type.String(), Type.Unknown()),
});

/** The body of POST /api/devices/:name: a device command without `device` (the path) and `by` (the token). */
const DeviceCommandBody = Type.Object(
  {
    state: Type.Optional(Type.Unsafe<0 | 1>({ type: 'integer', enum: [0, 1] })),
    mode: Type.Optional(StringEnum(['auto', 'manual', 'off'])),
    ttl_s: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 604800,
        description: 'return to auto after this many seconds (default: the devices file manual.defaultExpiryS)',
      }),
    ),
    until_changed: Type.Optional(
      Type.Boolean({
        description: 'keep the mode until the next command (refused for a heater or CO2 valve turned on)',
      }),
    ),
  },
  { additionalProperties: false },
);

const NameParam = Type.Object({ name: Type.String({ maxLength: 64 }) });

const SetpointsResponse = Type.Object({
  setpoints: Type.Array(
    Type.Object({
      name: Type.String(),
      label: Type.String({ description: 'friendly name (`label:` in devices.yaml, default the name)' }),
      value: Type.Number(),
      min: Nullable(Type.Number()),
      max: Nullable(Type.Number()),
      unit: Nullable(Type.String()),
    }),
  ),
});

const authErrors = { 401: errorSchema, 403: errorSchema } as const;

/**
 * Who sent a command: the role and a short fingerprint of the token (never
 * the token), e.g. `api:operator:3f9a1c2e`.
 */
function sender(req: FastifyRequest): string {
  const t = bearerToken(req) ?? '';
  return `api:${req.role ?? 'unknown'}:${crypto.createHash('sha256').update(t).digest('hex').slice(0, 8)}`;
}

/**
 * Control endpoints (operator token): POST /api/devices/:name and
 * PUT /api/setpoints/:name validate the command against the devices file
 * and append it to `actuators:commands`, recorded with who sent it.
 * Read-only: GET /api/setpoints, GET /api/on-time.
 */
export async function deviceControlRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  const cfg = ctx.control;
  const parser = new CommandParser();
  const operator = requireRole(ctx.auth, 'operator');

  const send = async (command: Record<string, unknown>) => {
    const id = await withRedis(ctx, 'XADD actuators:commands', () =>
      ctx.conn.run('XADD', (c) =>
        c.xAdd(
          COMMAND_STREAM,
          '*',
          { command: JSON.stringify(command) },
          {
            TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 10_000 },
          },
        ),
      ),
    );
    return { accepted: true, id, command };
  };

  app.post(
    '/api/devices/:name',
    {
      preHandler: operator,
      schema: {
        summary: 'Switch a device: manual on/off, off, or back to auto (operator token)',
        tags: ['devices'],
        security: [{ bearer: [] }],
        params: NameParam,
        body: DeviceCommandBody,
        response: { 202: acceptedSchema, ...errorResponses, ...authErrors },
      },
    },
    async (req, reply) => {
      const name = req.params.name;
      if (!cfg?.devices.some((d) => d.name === name))
        throw new ApiError(404, 'API_NOT_FOUND', `no device named "${name}"`);
      const p = parser.parse({ ...req.body, device: name, by: sender(req) });
      if (!p.ok) throw new ApiError(400, 'API_BAD_PARAMETER', p.error);
      return reply.code(202).send(await send({ ...p.command }));
    },
  );

  app.put(
    '/api/setpoints/:name',
    {
      preHandler: operator,
      schema: {
        summary: 'Change a setpoint within its configured range (operator token)',
        tags: ['devices'],
        security: [{ bearer: [] }],
        params: NameParam,
        body: Type.Object({ value: Type.Number() }, { additionalProperties: false }),
        response: { 202: acceptedSchema, ...errorResponses, ...authErrors },
      },
    },
    async (req, reply) => {
      const name = req.params.name;
      const spec = cfg?.setpoints[name];
      if (!spec) throw new ApiError(404, 'API_NOT_FOUND', `no setpoint named "${name}"`);
      const value = req.body.value;
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max))
        throw new ApiError(
          400,
          'API_BAD_PARAMETER',
          `${name} must be within [${spec.min ?? '-∞'}, ${spec.max ?? '∞'}]`,
        );
      return reply.code(202).send(await send({ setpoint: name, value, by: sender(req) }));
    },
  );

  app.get(
    '/api/setpoints',
    {
      schema: {
        summary: 'Every setpoint: configured range and current value (as the automation last persisted it)',
        tags: ['devices'],
        response: {
          200: SetpointsResponse,
          503: errorSchema,
        },
      },
    },
    async () => {
      const raw = await withRedis(ctx, 'HGET automation:state', () =>
        ctx.conn.run('HGET', (c) => c.hGet(STATE_KEY, '_setpoints')),
      );
      let current: Record<string, number> = {};
      try {
        current = raw ? (JSON.parse(String(raw)) as Record<string, number>) : {};
      } catch {
        current = {};
      }
      return {
        setpoints: Object.entries(cfg?.setpoints ?? {}).map(([name, s]) => ({
          name,
          label: s.label ?? name,
          value: typeof current[name] === 'number' ? current[name] : s.value,
          min: s.min ?? null,
          max: s.max ?? null,
          unit: s.unit ?? null,
        })),
      };
    },
  );

  app.get(
    '/api/on-time',
    {
      schema: {
        summary: 'On time per device and local day (hours, and kWh when the wattage is configured)',
        tags: ['devices'],
        response: { 200: Type.Object({}, { additionalProperties: true }), 503: errorSchema },
      },
    },
    async () => {
      const raw = await withRedis(ctx, 'HGET automation:state', () =>
        ctx.conn.run('HGET', (c) => c.hGet(STATE_KEY, '_ontime')),
      );
      let ms: Record<string, Record<string, number>> = {};
      try {
        ms = raw ? (JSON.parse(String(raw)) as Record<string, Record<string, number>>) : {};
      } catch {
        ms = {};
      }
      const devices = Object.fromEntries(
        (cfg?.devices ?? []).map((d) => [
          d.name,
          Object.entries(ms[d.name] ?? {}).map(([date, v]) => ({
            date,
            hours: v / 3_600_000,
            energyKwh: d.wattage === undefined ? null : ((v / 3_600_000) * d.wattage) / 1000,
          })),
        ]),
      );
      // who each device is, for charts grouped by room with friendly names
      const about = Object.fromEntries(
        (cfg?.devices ?? []).map((d) => [
          d.name,
          { label: d.label ?? d.name, location: d.location, cluster: d.cluster },
        ]),
      );
      return { devices, about };
    },
  );
}
