import type { FastifyInstance } from 'fastify';
import { ApiError, timeRange, withRedis, withStore, type ApiContext } from '../context.js';
import { LiveSnapshots, readLive } from '../live.js';
import { errorResponses, liveSchema, sensorSchema, timeParams } from '../schemas.js';

/** GET /api/sensors, /api/sensors/live, /api/sensors/:name/history */
export async function sensorRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const snapshots = new LiveSnapshots(async () => {
    const sensors = await withRedis(ctx, 'MGET', () => readLive(ctx.live, ctx.catalogue, ctx.options.staleAfterMs));
    return JSON.stringify({ now: Date.now(), staleAfterMs: ctx.options.staleAfterMs, sensors });
  });
  app.get(
    '/api/sensors',
    {
      schema: {
        summary: 'The sensor catalogue',
        tags: ['sensors'],
        response: { 200: { type: 'object', properties: { sensors: { type: 'array', items: sensorSchema } } } },
      },
    },
    async () => ({ sensors: ctx.catalogue }),
  );

  app.get(
    '/api/sensors/live',
    {
      schema: {
        summary: 'Every live value from Redis, with its age and a stale flag (never from the store)',
        tags: ['sensors'],
        response: {
          200: {
            type: 'object',
            properties: {
              now: { type: 'integer' },
              staleAfterMs: { type: 'integer' },
              sensors: { type: 'array', items: liveSchema },
            },
          },
          503: errorResponses[503],
        },
      },
    },
    async (_req, reply) => reply.type('application/json; charset=utf-8').send(await snapshots.get()),
  );

  app.get<{ Params: { name: string }; Querystring: { from?: string; to?: string; points: number } }>(
    '/api/sensors/:name/history',
    {
      schema: {
        summary: 'History of one sensor, downsampled on the server to at most `points` buckets (min, max, avg)',
        tags: ['sensors'],
        params: { type: 'object', properties: { name: { type: 'string', minLength: 1 } }, required: ['name'] },
        querystring: {
          type: 'object',
          properties: {
            ...timeParams,
            points: {
              type: 'integer',
              minimum: 1,
              maximum: ctx.options.maxHistoryPoints,
              default: 1000,
              description: 'most buckets returned',
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              sensor: { type: 'string' },
              unit: { type: 'string' },
              from: { type: 'integer' },
              to: { type: 'integer' },
              points: { type: 'integer' },
              buckets: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    t: { type: 'integer', description: 'bucket start, unix ms' },
                    min: { type: 'number' },
                    max: { type: 'number' },
                    avg: { type: 'number' },
                    count: { type: 'integer' },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const sensor = ctx.byName.get(req.params.name);
      if (!sensor)
        throw new ApiError(404, 'API_NOT_FOUND', `unknown sensor "${req.params.name}" (see GET /api/sensors)`);
      const { from, to } = timeRange(req.query, ctx.options.defaultHistoryRangeMs);
      const points = req.query.points;
      // the schema's integer check lets Infinity through ("1e309")
      if (!Number.isSafeInteger(points) || points < 1 || points > ctx.options.maxHistoryPoints) {
        throw new ApiError(
          400,
          'API_BAD_PARAMETER',
          `query parameter "points" must be an integer 1–${ctx.options.maxHistoryPoints}`,
        );
      }
      const buckets = await withStore(ctx, 'history', (s) => s.history({ sensor: sensor.name, from, to, points }));
      return { sensor: sensor.name, unit: sensor.unit, from, to, points, buckets };
    },
  );
}
