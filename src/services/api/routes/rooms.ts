import { Type } from '@sinclair/typebox';
import type { ApiApp } from '../app.js';
import { roomsOf } from '../catalogue.js';
import { ApiError, withRedis, type ApiContext } from '../context.js';
import { readLive } from '../live.js';
import { deviceSchema, errorResponses, roomSchema } from '../schemas.js';

/** GET /api/rooms, /api/rooms/:location/:cluster, /api/devices (read-only device states). */
export async function roomRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  const rooms = roomsOf(ctx.catalogue);
  const devices = () => ctx.feed?.devices() ?? [];

  const picture = async (only?: { location: string; cluster: string }) => {
    const chosen = only ? rooms.filter((r) => r.location === only.location && r.cluster === only.cluster) : rooms;
    const sensors = chosen.flatMap((r) => r.sensors);
    const live = await withRedis(ctx, 'MGET', () => readLive(ctx.live, sensors, ctx.options.staleAfterMs));
    const devs = devices();
    return chosen.map((r) => ({
      location: r.location,
      cluster: r.cluster,
      sensors: live.filter((l) => l.location === r.location && l.cluster === r.cluster),
      devices: devs.filter((d) => d.location === r.location && d.cluster === r.cluster),
    }));
  };

  app.get(
    '/api/rooms',
    {
      schema: {
        summary: 'The live picture of every room (sensors from Redis, device states)',
        tags: ['rooms'],
        response: {
          200: Type.Object({ now: Type.Integer(), rooms: Type.Array(roomSchema) }),
          503: errorResponses[503],
        },
      },
    },
    async () => ({ now: Date.now(), rooms: await picture() }),
  );

  app.get(
    '/api/rooms/:location/:cluster',
    {
      schema: {
        summary: 'The live picture of one room',
        tags: ['rooms'],
        params: Type.Object({ location: Type.String({ minLength: 1 }), cluster: Type.String({ minLength: 1 }) }),
        response: { 200: roomSchema, ...errorResponses },
      },
    },
    async (req) => {
      const { location, cluster } = req.params;
      if (!rooms.some((r) => r.location === location && r.cluster === cluster)) {
        throw new ApiError(404, 'API_NOT_FOUND', `unknown room "${location}" / "${cluster}" (see GET /api/rooms)`);
      }
      const [room] = await picture({ location, cluster });
      return room;
    },
  );

  app.get(
    '/api/devices',
    {
      schema: {
        summary: 'Latest state of every device seen on device:update (read-only)',
        tags: ['devices'],
        response: {
          200: Type.Object({ devices: Type.Array(deviceSchema) }),
        },
      },
    },
    async () => ({ devices: devices() }),
  );
}
