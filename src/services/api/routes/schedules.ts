import { ACTUATORS_COMMANDS } from '../../../contracts/names.js';
import crypto from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiApp } from '../app.js';
import { ProgramValidator, type Problem } from '../../../cea/control/programs.js';
import { bearerToken, requireRole } from '../auth.js';
import { ApiError, withRedis, withStore, type ApiContext } from '../context.js';
import { errorResponses, errorSchema, Nullable } from '../schemas.js';
import type { ApiStore, ProgramKind } from '../store-port.js';

/** The automation reloads schedules and rules when it reads this command on the command stream. */
const COMMAND_STREAM = ACTUATORS_COMMANDS;

const rowSchema = Type.Partial(
  Type.Object({
    id: Type.String(),
    config: Type.Object({}, { additionalProperties: true }),
    enabled: Type.Boolean(),
    updatedAt: Type.Number(),
    by: Nullable(Type.String()),
  }),
);

const idParam = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }) });

const bodySchema = Type.Object(
  { config: Type.Object({}), enabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

/** A refused schedule or rule: the error, and every problem found. */
const invalidSchema = Type.Partial(
  Type.Object({
    statusCode: Type.Number(),
    error: Type.String(),
    code: Type.String(),
    message: Type.String(),
    problems: Type.Array(Type.Partial(Type.Object({ field: Type.String(), message: Type.String() }))),
  }),
);

const authErrors = { 401: errorSchema, 403: errorSchema } as const;

function sender(req: FastifyRequest): string {
  const t = bearerToken(req) ?? '';
  return `api:${req.role ?? 'unknown'}:${crypto.createHash('sha256').update(t).digest('hex').slice(0, 8)}`;
}

type ProgramStore = Required<Pick<ApiStore, 'listConfigs' | 'putConfig' | 'deleteConfig'>>;

/**
 * Schedules and rules (the `schedules` and `rules` tables): GET for a
 * viewer, PUT/POST/DELETE for an operator. A change is validated against
 * the devices file (400 with `problems`, one per field), stored, then a
 * `{reload: "programs"}` command is appended to `actuators:commands`: the
 * automation reloads every schedule and rule without a restart.
 */
export async function scheduleRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  const cfg = ctx.control;
  const validator = cfg ? new ProgramValidator(cfg) : undefined;
  const rooms = Object.fromEntries((cfg?.devices ?? []).map((d) => [d.name, d.location]));
  const viewer = requireRole(ctx.auth, 'viewer');
  const operator = requireRole(ctx.auth, 'operator');

  const store = <T>(what: string, fn: (s: ProgramStore) => Promise<T>) =>
    withStore(ctx, what, (s) => {
      if (!s.listConfigs || !s.putConfig || !s.deleteConfig)
        throw new ApiError(503, 'API_NO_STORE', 'the history store keeps no schedules or rules');
      return fn(s as ProgramStore);
    });

  const reload = (by: string) =>
    withRedis(ctx, 'XADD actuators:commands', () =>
      ctx.conn.run('XADD', (c) =>
        c.xAdd(
          COMMAND_STREAM,
          '*',
          { command: JSON.stringify({ reload: 'programs', by }) },
          { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 10_000 } },
        ),
      ),
    );

  const invalid = (reply: FastifyReply, what: string, problems: Problem[]) =>
    reply.code(400).send({
      statusCode: 400,
      error: 'Bad Request',
      code: 'API_BAD_PARAMETER',
      message: `${what} is invalid: ${problems.map((p) => `${p.field || '(top level)'} ${p.message}`).join('; ')}`,
      problems,
    });

  for (const kind of ['schedules', 'rules'] as const satisfies readonly ProgramKind[]) {
    const one = kind === 'schedules' ? 'schedule' : 'rule';
    const check = (v: unknown): Problem[] => {
      if (!validator) throw new ApiError(503, 'API_NO_STORE', 'the devices file is unusable: changes refused');
      return kind === 'schedules' ? validator.scheduleProblems(v) : validator.ruleProblems(v);
    };
    const save = async (req: FastifyRequest, reply: FastifyReply, id: string, status: number) => {
      const body = req.body as { config: Record<string, unknown>; enabled?: boolean };
      const problems = check(body.config);
      if (problems.length) return invalid(reply, `${one} ${id}`, problems);
      const by = sender(req);
      const row = { id, config: body.config, enabled: body.enabled ?? true, by };
      await store(`put ${one}`, (s) => s.putConfig(kind, row));
      const reloadId = await reload(by);
      return reply.code(status).send({ ...row, updatedAt: Date.now(), reloadId });
    };

    app.get(
      `/api/${kind}`,
      {
        preHandler: viewer,
        schema: {
          summary: `Every ${one} (viewer token)`,
          tags: ['automation'],
          security: [{ bearer: [] }],
          response: {
            200: Type.Partial(
              Type.Object({
                [kind]: Type.Array(rowSchema),
                canEdit: Type.Boolean({ description: 'whether this token may change them (operator or admin)' }),
                rooms: Type.Object(
                  {},
                  {
                    additionalProperties: Type.String(),
                    description: 'device → its location (room), from the devices file',
                  },
                ),
              }),
            ),
            ...authErrors,
            503: errorSchema,
          },
        },
      },
      async (req) => ({
        [kind]: await store(`list ${kind}`, (s) => s.listConfigs(kind)),
        canEdit: req.role === 'operator' || req.role === 'admin',
        rooms,
      }),
    );

    app.put(
      `/api/${kind}/:id`,
      {
        preHandler: operator,
        schema: {
          summary: `Create or replace a ${one}; the automation applies it without a restart (operator token)`,
          tags: ['automation'],
          security: [{ bearer: [] }],
          params: idParam,
          body: bodySchema,
          response: { 200: rowSchema, ...errorResponses, 400: invalidSchema, ...authErrors },
        },
      },
      (req, reply) => save(req, reply, req.params.id, 200),
    );

    app.post(
      `/api/${kind}`,
      {
        preHandler: operator,
        schema: {
          summary: `Add a ${one} under a new id (operator token)`,
          tags: ['automation'],
          security: [{ bearer: [] }],
          body: bodySchema,
          response: { 201: rowSchema, ...errorResponses, 400: invalidSchema, ...authErrors },
        },
      },
      (req, reply) => save(req, reply, `${one}-${crypto.randomBytes(4).toString('hex')}`, 201),
    );

    app.delete(
      `/api/${kind}/:id`,
      {
        preHandler: operator,
        schema: {
          summary: `Delete a ${one} (operator token)`,
          tags: ['automation'],
          security: [{ bearer: [] }],
          params: idParam,
          response: {
            200: Type.Partial(Type.Object({ deleted: Type.String() })),
            ...errorResponses,
            ...authErrors,
          },
        },
      },
      async (req) => {
        const gone = await store(`delete ${one}`, (s) => s.deleteConfig(kind, req.params.id));
        if (!gone) throw new ApiError(404, 'API_NOT_FOUND', `no ${one} named "${req.params.id}"`);
        await reload(sender(req));
        return { deleted: req.params.id };
      },
    );
  }
}
