import { Type, type Static } from '@sinclair/typebox';
import { chooseWidth } from '../../../store/buckets.js';
import type { ApiApp } from '../app.js';
import { ApiError, timeRange, withRedis, withStore, type ApiContext } from '../context.js';
import { LiveSnapshots, readLive } from '../live.js';
import { errorResponses, historyBucketSchema, liveSchema, sensorSchema, timeParams } from '../schemas.js';

const LiveResponse = Type.Object({
  now: Type.Integer(),
  staleAfterMs: Type.Integer(),
  sensors: Type.Array(liveSchema),
});

/** GET /api/sensors, /api/sensors/live, /api/sensors/:name/history */
export async function sensorRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
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
        response: { 200: Type.Object({ sensors: Type.Array(sensorSchema) }) },
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
          200: LiveResponse,
          503: errorResponses[503],
        },
      },
    },
    // the snapshot is shared by concurrent requests as JSON text, which fastify sends as it is
    async (_req, reply) =>
      reply
        .type('application/json; charset=utf-8')
        .send((await snapshots.get()) as unknown as Static<typeof LiveResponse>),
  );

  app.get(
    '/api/sensors/:name/history',
    {
      schema: {
        summary: 'History of one sensor, downsampled on the server to at most `points` buckets (min, max, avg)',
        tags: ['sensors'],
        params: Type.Object({ name: Type.String({ minLength: 1 }) }),
        querystring: Type.Object({
          ...timeParams,
          points: Type.Integer({
            minimum: 1,
            maximum: ctx.options.maxHistoryPoints,
            default: 1000,
            description: 'most buckets returned',
          }),
        }),
        response: {
          200: Type.Object({
            sensor: Type.String(),
            unit: Type.String(),
            from: Type.Integer(),
            to: Type.Integer(),
            points: Type.Integer(),
            bucketMs: Type.Integer({
              description: 'width of one bucket (ms); consecutive buckets further apart are a gap in the data',
            }),
            buckets: Type.Array(historyBucketSchema),
          }),
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
      return {
        sensor: sensor.name,
        unit: sensor.unit,
        from,
        to,
        points,
        bucketMs: chooseWidth(from, to, points),
        buckets,
      };
    },
  );
}
