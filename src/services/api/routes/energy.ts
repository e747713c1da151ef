import { localDate } from '../../../cea/cycle.js';
import { energyUse } from '../../../cea/energy.js';
import type { ApiApp } from '../app.js';
import { roomsOf } from '../catalogue.js';
import type { ApiContext } from '../context.js';
import { energyResponse } from '../room-schemas.js';
import { readRoomState, roomConfigOf } from '../room-state.js';
import { roomLabeller } from '../room-view.js';
import { errorResponses } from '../schemas.js';

/**
 * GET /api/energy: per room, kWh and cost since its grow cycle started (or
 * over the last 7 days), per device and local day, from the on time the
 * automation keeps and the devices' wattage; the price is `energy:` in the
 * devices file.
 */
export async function energyRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  const rooms = roomsOf(ctx.catalogue);
  const config = roomConfigOf(ctx);

  app.get(
    '/api/energy',
    {
      schema: {
        summary: 'Energy (kWh) and cost per room since its cycle start (else 7 days), per device and day',
        tags: ['rooms'],
        response: { 200: energyResponse, 503: errorResponses[503] },
      },
    },
    async () => {
      const { automation } = await readRoomState(ctx);
      const now = Date.now();
      const tz = config?.control.timeZone ?? 'UTC';
      const labelOf = roomLabeller(rooms);
      return {
        pricePerKwh: config?.energy?.pricePerKwh ?? null,
        currency: config?.energy?.currency ?? null,
        rooms: rooms.map((r) => {
          const cycle = automation.cycles[r.location];
          const since = cycle && cycle.start <= localDate(now, tz) ? cycle.start : localDate(now - 6 * 86_400_000, tz);
          const devices = (config?.control.devices ?? []).filter(
            (d) => d.location === r.location && d.cluster === r.cluster,
          );
          return {
            location: r.location,
            cluster: r.cluster,
            label: labelOf(r),
            ...energyUse(
              devices.map((d) => ({ name: d.name, wattage: d.wattage })),
              automation.onTime,
              since,
              config?.energy,
            ),
          };
        }),
      };
    },
  );
}
