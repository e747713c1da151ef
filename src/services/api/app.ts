import fs from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import { ApiError, type ApiContext } from './context.js';
import { apiVersion } from './options.js';
import { exportRoutes } from './routes/export.js';
import { healthRoutes } from './routes/health.js';
import { roomRoutes } from './routes/rooms.js';
import { sensorRoutes } from './routes/sensors.js';
import { wsRoutes } from './routes/ws.js';
import { deviceControlRoutes } from './routes/devices.js';

/** A plugin that adds routes with the app's context (control routes use `requireRole`). */
export type ApiRoutes = (app: FastifyInstance, ctx: ApiContext) => Promise<void>;

/** Every route group of the API; a new group is one line here. */
export const ROUTES: ApiRoutes[] = [healthRoutes, sensorRoutes, roomRoutes, exportRoutes, wsRoutes];
ROUTES.push(deviceControlRoutes);

const WHERE: Record<string, string> = {
  querystring: 'query parameter',
  params: 'path parameter',
  body: 'body field',
  headers: 'header',
};

interface SchemaError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** "query parameter "points" must be <= 5000": which parameter and why. */
export function describeSchemaError(errors: SchemaError[], dataVar: string): string {
  const e = errors[0];
  const where = WHERE[dataVar] ?? dataVar;
  if (!e) return `invalid ${where}`;
  if (e.keyword === 'required') return `${where} "${String(e.params.missingProperty)}" is required`;
  const name = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || dataVar;
  let why = e.message ?? 'is invalid';
  if (e.keyword === 'enum' && Array.isArray(e.params.allowedValues)) {
    why = `must be one of ${e.params.allowedValues.join(', ')}`;
  }
  return `${where} "${name}" ${why}`;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
  503: 'Service Unavailable',
};

/** The Fastify app with every route; not listening yet. */
export async function buildApp(ctx: ApiContext, extra: ApiRoutes[] = []): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    schemaErrorFormatter: (errors, dataVar) => new Error(describeSchemaError(errors as SchemaError[], dataVar)),
    routerOptions: { maxParamLength: 200 },
  });

  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    if (err instanceof ApiError) {
      if (err.statusCode >= 500) ctx.log.warn({ code: err.code, url: req.routeOptions.url }, err.message);
      return reply.code(err.statusCode).send({
        statusCode: err.statusCode,
        error: STATUS_TEXT[err.statusCode] ?? 'Error',
        code: err.code,
        message: err.message,
      });
    }
    if ((err as FastifyError).validation) {
      return reply
        .code(400)
        .send({ statusCode: 400, error: 'Bad Request', code: 'API_BAD_PARAMETER', message: err.message });
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status < 500) {
      return reply
        .code(status)
        .send({ statusCode: status, error: STATUS_TEXT[status] ?? 'Error', code: err.code, message: err.message });
    }
    ctx.log.error({ err, url: req.routeOptions.url }, 'request failed');
    return reply
      .code(500)
      .send({ statusCode: 500, error: 'Internal Server Error', message: 'internal error (logged)' });
  });

  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      statusCode: 404,
      error: 'Not Found',
      code: 'API_NOT_FOUND',
      message: `no route ${req.method} ${req.url.split('?')[0]}`,
    }),
  );

  ctx.metrics.install(app);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Canopy API',
        version: apiVersion(),
        description: 'Live values (Redis), history (store), rooms, devices, export, health and metrics of Canopy.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'CANOPY_API_TOKENS token' } },
      },
    },
  });
  await app.register(fastifyWebsocket, { options: { maxPayload: ctx.options.wsMaxClientMessageBytes } });

  const plugin: FastifyPluginAsync = async (scoped) => {
    for (const r of [...ROUTES, ...extra]) await r(scoped, ctx);
    scoped.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['system'] } }, async (_req, reply) =>
      reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.metrics()),
    );
    scoped.get('/docs', { schema: { hide: true } }, async () => scoped.swagger());
    scoped.get('/docs/json', { schema: { hide: true } }, async () => scoped.swagger());
  };
  await app.register(plugin);

  const root = ctx.options.webRoot;
  if (fs.existsSync(path.join(root, 'index.html'))) {
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      setHeaders: (res, file) => {
        if (file.endsWith('.html')) {
          res.header(
            'content-security-policy',
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'",
          );
          res.header('cache-control', 'no-cache');
        } else if (file.includes(`${path.sep}assets${path.sep}`)) {
          res.header('cache-control', 'public, max-age=31536000, immutable');
        }
      },
    });
  } else {
    app.get('/', { schema: { hide: true } }, async () => {
      throw new ApiError(503, 'API_NO_DASHBOARD', `the dashboard is not built (${root} is missing): run npm run build`);
    });
  }
  await app.ready();
  return app;
}
