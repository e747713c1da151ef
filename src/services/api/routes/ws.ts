import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

/**
 * GET /ws (WebSocket): pushes `{"type":"sensor","data":<sensor:update>}` and
 * `{"type":"device","data":<device:update>}`. Filter with `?location=&cluster=`
 * or by sending `{"type":"subscribe","location"?,"cluster"?}`.
 */
export async function wsRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get<{ Querystring: { location?: string; cluster?: string } }>(
    '/ws',
    {
      websocket: true,
      schema: {
        summary: 'WebSocket: live sensor:update and device:update, optionally filtered by location/cluster',
        tags: ['live'],
        querystring: {
          type: 'object',
          properties: { location: { type: 'string', minLength: 1 }, cluster: { type: 'string', minLength: 1 } },
        },
      },
    },
    (socket, req) => {
      const { location, cluster } = req.query;
      ctx.hub.add(socket, { location, cluster }, { devices: ctx.feed?.devices() ?? [] });
    },
  );
}
