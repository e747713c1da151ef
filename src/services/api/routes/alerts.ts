import { Type } from '@sinclair/typebox';
import { Subscriber } from '../../../bus/subscriber.js';
import type { Validator } from '../../../bus/validate.js';
import { ALERTS_ACKS, ALERTS_ACTIVE, ALERTS_RECENT, ALERTS_UPDATE } from '../../../contracts/names.js';
import type { ApiApp } from '../app.js';
import { requireRole } from '../auth.js';
import { AlertPlaces, AlertsResponseSchema, ApiAlertSchema, type Place } from '../alerts-view.js';
import { ApiError, withRedis, type ApiContext } from '../context.js';
import { errorResponses, errorSchema } from '../schemas.js';

/** The devices of the devices file and their rooms (failsafe alerts name a device); empty when unreadable. */
function devicePlaces(ctx: ApiContext): Map<string, Place> {
  return new Map(
    (ctx.control?.devices ?? []).map((d) => [d.name, { location: d.location, cluster: d.cluster, label: d.label }]),
  );
}

/** An `alerts:update` message: `{type, alert}` with an object alert. */
const checkAlertUpdate: Validator<{ type: string; alert: unknown }> = (v) => {
  const o = v as { type?: unknown; alert?: unknown } | null;
  return o && typeof o === 'object' && typeof o.type === 'string' && typeof o.alert === 'object' && o.alert !== null
    ? { ok: true, value: { type: o.type, alert: o.alert } }
    : { ok: false, error: 'expected {type, alert}' };
};

const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

/**
 * Alerts of `canopy alerts`: GET /api/alerts (what it keeps in Redis), POST
 * /api/alerts/:id/ack (operator: appended to `alerts:acks`, which the alerts
 * service reads), and every transition on `alerts:update` forwarded to /ws
 * clients as `{type:'alert', data:{type, alert}}`.
 */
export async function alertRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  const places = new AlertPlaces(ctx.byName, devicePlaces(ctx));
  const operator = requireRole(ctx.auth, 'operator');
  const counters = { malformed: 0 };

  const read = async () => {
    const [active, recent] = await withRedis(ctx, 'GET alerts', () =>
      ctx.conn.run('MGET alerts', (c) => c.mGet([ALERTS_ACTIVE, ALERTS_RECENT])),
    );
    const r = places.response(active ?? null, recent ?? null);
    counters.malformed += r.bad;
    return r;
  };

  app.get(
    '/api/alerts',
    {
      schema: {
        summary: 'Active, acknowledged and recent alerts (from canopy alerts)',
        tags: ['alerts'],
        response: { 200: AlertsResponseSchema, ...errorResponses },
      },
    },
    async () => {
      const { bad: _bad, ...r } = await read();
      return r;
    },
  );

  app.post(
    '/api/alerts/:id/ack',
    {
      preHandler: operator,
      schema: {
        summary: 'Acknowledge an active alert: no more reminders until it resolves (operator token)',
        tags: ['alerts'],
        security: [{ bearer: [] }],
        params: IdParam,
        response: {
          202: Type.Object({
            accepted: Type.Boolean({ description: 'false when it was acknowledged already' }),
            alert: ApiAlertSchema,
          }),
          ...errorResponses,
          401: errorSchema,
          403: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const { active, acknowledged } = await read();
      const done = acknowledged.find((a) => a.id === req.params.id);
      if (done) return reply.code(202).send({ accepted: false, alert: done });
      const a = active.find((x) => x.id === req.params.id);
      if (!a) throw new ApiError(404, 'API_NOT_FOUND', `no active alert "${req.params.id}" (it may have resolved)`);
      const by = req.who ?? req.role ?? 'operator';
      const ack = { key: a.id, since: a.since, by, at: Date.now() };
      await withRedis(ctx, 'XADD alerts:acks', () =>
        ctx.conn.run('XADD alerts:acks', (c) =>
          c.xAdd(
            ALERTS_ACKS,
            '*',
            { ack: JSON.stringify(ack) },
            { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 1000 } },
          ),
        ),
      );
      return reply.code(202).send({ accepted: true, alert: a });
    },
  );

  // the live channel: a subscription of its own, so the update feed stays as it is
  let sub: Subscriber | undefined;
  try {
    sub = await Subscriber.create(ctx.conn, { logger: ctx.log, connection: { clientName: 'canopy-api-alerts' } });
    await sub.subscribe<{ type: string; alert: unknown }>(
      ALERTS_UPDATE,
      (m) => {
        const alert = places.view(m.alert);
        if (!alert) {
          counters.malformed++;
          return;
        }
        ctx.hub.alert({ type: m.type, alert });
      },
      { validate: checkAlertUpdate },
    );
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, 'alerts are not forwarded to /ws (no subscription)');
  }
  app.addHook('onClose', async () => {
    await sub?.close();
  });
}
