import { Type } from '@sinclair/typebox';
import type { ApiApp } from '../app.js';
import { TOKEN_COOKIE, cookieValue } from '../access.js';
import { bearerToken, checkToken, isRefusal, refuse, type Identity } from '../auth.js';
import type { ApiContext } from '../context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** /ws: the identity proven at the upgrade (cookie or Authorization header). */
    wsIdentity?: Identity;
  }
}

/**
 * GET /ws (WebSocket): pushes `{"type":"sensor","data":<sensor:update>}` and
 * `{"type":"device","data":<device:update>}`. Filter with `?location=&cluster=`
 * or by sending `{"type":"subscribe","location"?,"cluster"?}`. When reads
 * need a token, it comes in the `canopy_token` cookie, an Authorization
 * header, or the first message `{"type":"auth","token":…}` — never the URL.
 */
export async function wsRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  app.get(
    '/ws',
    {
      websocket: true,
      schema: {
        summary: 'WebSocket: live sensor:update and device:update, optionally filtered by location/cluster',
        tags: ['live'],
        querystring: Type.Object({
          location: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          cluster: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        }),
      },
      // before the upgrade: a full house or a wrong token is an HTTP answer, not a socket
      onRequest: async (req, reply) => {
        if (ctx.hub.full) {
          ctx.metrics.refused('API_WS_FULL');
          return reply
            .code(503)
            .header('retry-after', '5')
            .send({
              statusCode: 503,
              error: 'Service Unavailable',
              code: 'API_WS_FULL',
              message: `too many WebSocket clients (${ctx.options.wsMaxClients}); try again later`,
            });
        }
        const token = bearerToken(req) ?? cookieValue(req.headers.cookie, TOKEN_COOKIE);
        if (token === undefined) return;
        const r = checkToken(ctx.auth, token, 'viewer');
        if (isRefusal(r)) {
          ctx.metrics.refused(r.code);
          return refuse(reply, r);
        }
        req.wsIdentity = r;
      },
    },
    (socket, req) => {
      const { location, cluster } = req.query;
      const id = req.wsIdentity;
      ctx.hub.add(socket, { location, cluster }, () => ({ devices: ctx.feed?.devices() ?? [] }), {
        authed: id !== undefined || ctx.options.readAccess === 'open',
        ...(id ? { who: id.name } : {}),
      });
    },
  );
}
