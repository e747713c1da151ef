import { Type } from '@sinclair/typebox';
import type { ApiApp } from '../app.js';
import { roomsOf } from '../catalogue.js';
import { ApiError, withRedis, type ApiContext } from '../context.js';
import { readLive } from '../live.js';
import { roomViewSchema } from '../room-schemas.js';
import { readRoomState, roomConfigOf } from '../room-state.js';
import { buildRooms, roomLabeller } from '../room-view.js';
import { deviceSchema, errorResponses } from '../schemas.js';

/**
 * GET /api/rooms, /api/rooms/:location/:cluster: each room's status
 * against its stage's targets, its key values with their bands, active
 * alerts, grow cycle and energy; GET /api/devices (read-only device states).
 */
export async function roomRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  const rooms = roomsOf(ctx.catalogue);
  const config = roomConfigOf(ctx);
  const labelOf = roomLabeller(rooms);
  const devices = () => ctx.feed?.devices() ?? [];

  const picture = async (only?: { location: string; cluster: string }) => {
    const chosen = only ? rooms.filter((r) => r.location === only.location && r.cluster === only.cluster) : rooms;
    const sensors = chosen.flatMap((r) => r.sensors);
    const live = await withRedis(ctx, 'MGET', () => readLive(ctx.live, sensors, ctx.options.staleAfterMs));
    const { automation, alerts } = await readRoomState(ctx);
    return buildRooms({
      rooms: chosen,
      live,
      devices: devices(),
      config,
      automation,
      alerts,
      now: Date.now(),
      labelOf,
    });
  };

  app.get(
    '/api/rooms',
    {
      schema: {
        summary: 'Every room: status against its targets, key values with bands, alerts, grow cycle, energy',
        tags: ['rooms'],
        response: {
          200: Type.Object({ now: Type.Integer(), rooms: Type.Array(roomViewSchema) }),
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
        summary: 'One room: status, key values, alerts, grow cycle, energy',
        tags: ['rooms'],
        params: Type.Object({ location: Type.String({ minLength: 1 }), cluster: Type.String({ minLength: 1 }) }),
        response: { 200: roomViewSchema, ...errorResponses },
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
