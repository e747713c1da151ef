import crypto from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { CycleCommandSchema, type CycleCommand } from '../../../contracts/commands.js';
import { ACTUATORS_COMMANDS } from '../../../contracts/names.js';
import { CycleDateError, parseCycleDate } from '../../../cea/cycle.js';
import type { ApiApp } from '../app.js';
import { bearerToken, requireRole } from '../auth.js';
import { ApiError, withRedis, type ApiContext } from '../context.js';
import { stagesOf } from '../room-config.js';
import { cycleBody } from '../room-schemas.js';
import { roomConfigOf } from '../room-state.js';
import { errorResponses, errorSchema } from '../schemas.js';

const acceptedSchema = Type.Object({
  accepted: Type.Boolean(),
  id: Type.String({ description: 'entry id in actuators:commands' }),
  command: CycleCommandSchema,
});

/** `api:<role>:<digest of the token>` — who set the cycle, never the token. */
function sender(req: FastifyRequest): string {
  const t = bearerToken(req) ?? '';
  return `api:${req.role ?? 'operator'}:${crypto.createHash('sha256').update(t).digest('hex').slice(0, 8)}`;
}

/**
 * PUT /api/rooms/:location/cycle (operator token): sets a location's grow
 * cycle (stage and start date). The API checks the stage and the date and
 * appends `{cycle:{location,stage,start},by}` to actuators:commands; the
 * automation keeps it (`_cycles` in automation:state) and switches to the
 * stage's targets. GET /api/rooms shows it as "week 3, day 6".
 */
export async function cycleRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  const config = roomConfigOf(ctx);
  const locations = new Set(ctx.catalogue.map((s) => s.location));
  const operator = requireRole(ctx.auth, 'operator');

  app.put(
    '/api/rooms/:location/cycle',
    {
      preHandler: operator,
      schema: {
        summary: "Set a room's grow cycle: stage and start date (operator token)",
        tags: ['rooms'],
        security: [{ bearer: [] }],
        params: Type.Object({ location: Type.String({ minLength: 1, maxLength: 128 }) }),
        body: cycleBody,
        response: { 202: acceptedSchema, ...errorResponses, 401: errorSchema, 403: errorSchema },
      },
    },
    async (req, reply) => {
      const { location } = req.params;
      const { stage, start } = req.body;
      if (!locations.has(location))
        throw new ApiError(404, 'API_NOT_FOUND', `unknown location "${location}" (see GET /api/rooms)`);
      if (!config)
        throw new ApiError(503, 'API_NO_STORE', 'the devices file is unusable: no cycle can be set (fix devices.yaml)');
      const stages = stagesOf(config, location);
      if (!stages.includes(stage))
        throw new ApiError(
          400,
          'API_BAD_PARAMETER',
          `"${stage}" is not a stage of ${location}${stages.length ? ` (one of ${stages.join(', ')})` : ' (it has no stages)'}`,
        );
      try {
        parseCycleDate(start);
      } catch (err) {
        if (err instanceof CycleDateError) throw new ApiError(400, 'API_BAD_PARAMETER', err.message, { cause: err });
        throw err;
      }
      const command: CycleCommand = { cycle: { location, stage, start }, by: sender(req) };
      const id = await withRedis(ctx, 'XADD actuators:commands', () =>
        ctx.conn.run('XADD', (c) =>
          c.xAdd(
            ACTUATORS_COMMANDS,
            '*',
            { command: JSON.stringify(command) },
            { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 10_000 } },
          ),
        ),
      );
      return reply.code(202).send({ accepted: true, id, command });
    },
  );
}
