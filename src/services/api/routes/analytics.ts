import { ANALYTICS_LATEST } from '../../../contracts/names.js';
import { Type } from '@sinclair/typebox';
import type { ApiApp } from '../app.js';
import { ApiError, withRedis, type ApiContext } from '../context.js';
import { errorResponses, Nullable } from '../schemas.js';

/**
 * GET /api/analytics: the latest snapshot of `canopy analytics` — per sensor
 * the trend (least-squares slope per hour over its window) and, for every
 * threshold the sensor has (limits, setpoints, alert levels, VPD band), when
 * the trend reaches it; per room the share of today inside the VPD band.
 * The shape is `analytics:update`'s (src/services/analytics); while
 * analytics is not running, `running: false` and no sensors.
 */
export async function analyticsRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  app.get(
    '/api/analytics',
    {
      schema: {
        summary: 'Latest trends and time-to-threshold estimates of canopy analytics (analytics:latest)',
        tags: ['analytics'],
        querystring: Type.Object({
          sensor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'only this sensor' })),
        }),
        response: {
          200: Type.Object({
            running: Type.Boolean({ description: 'false (and everything empty) while analytics does not run' }),
            timestamp: Nullable(Type.String()),
            age_ms: Nullable(Type.Integer({ description: 'how old the snapshot is' })),
            sensors: Type.Object({}, { additionalProperties: true }),
            rooms: Type.Object({}, { additionalProperties: true }),
          }),
          503: errorResponses[503],
        },
      },
    },
    async (req) => {
      const raw = await withRedis(ctx, `GET ${ANALYTICS_LATEST}`, () =>
        ctx.conn.run(`GET ${ANALYTICS_LATEST}`, (c) => c.get(ANALYTICS_LATEST)),
      );
      // not running: an empty answer, not an error (the dashboard polls this)
      if (raw === null || raw === undefined) {
        return { running: false, timestamp: null, age_ms: null, sensors: {}, rooms: {} };
      }
      let snap: { timestamp?: unknown; sensors?: unknown; rooms?: unknown };
      try {
        snap = JSON.parse(String(raw)) as typeof snap;
      } catch {
        snap = {};
      }
      const isMap = (v: unknown): v is Record<string, unknown> =>
        typeof v === 'object' && v !== null && !Array.isArray(v);
      if (!isMap(snap) || !isMap(snap.sensors) || typeof snap.timestamp !== 'string') {
        ctx.log.warn('analytics:latest is not an analytics snapshot');
        throw new ApiError(503, 'API_BAD_RECORD', 'analytics:latest holds something that is not an analytics snapshot');
      }
      const t = Date.parse(snap.timestamp);
      const sensors = req.query.sensor
        ? Object.fromEntries(Object.entries(snap.sensors).filter(([k]) => k === req.query.sensor))
        : snap.sensors;
      return {
        running: true,
        timestamp: snap.timestamp,
        age_ms: Number.isFinite(t) ? Math.max(0, Date.now() - t) : null,
        sensors,
        rooms: isMap(snap.rooms) ? snap.rooms : {},
      };
    },
  );
}
