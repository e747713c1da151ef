import fs from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import https from 'node:https';
import path from 'node:path';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type RawServerDefault,
} from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ConfigError } from '../../bus/errors.js';
import { installAccess } from './access.js';
import { ApiError, type ApiContext } from './context.js';
import type { ApiOptions } from './options.js';
import { apiVersion } from './options.js';
import { exportRoutes } from './routes/export.js';
import { healthRoutes } from './routes/health.js';
import { roomRoutes } from './routes/rooms.js';
import { sensorRoutes } from './routes/sensors.js';
import { wsRoutes } from './routes/ws.js';
import { deviceControlRoutes } from './routes/devices.js';
import { scheduleRoutes } from './routes/schedules.js';
import { relayRoutes } from './routes/relays.js';
import { analyticsRoutes } from './routes/analytics.js';
import { alertRoutes } from './routes/alerts.js';
import { journalRoutes } from './routes/journal.js';
import { cycleRoutes } from './routes/cycle.js';
import { energyRoutes } from './routes/energy.js';

/**
 * The app as routes see it: fastify with the TypeBox type provider, so a
 * route's TypeBox schemas (params, querystring, body, response) type its
 * handler and make its part of the OpenAPI document.
 */
export type ApiApp = FastifyInstance<
  RawServerDefault,
  http.IncomingMessage,
  http.ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** A plugin that adds routes with the app's context (control routes use `requireRole`). */
export type ApiRoutes = (app: ApiApp, ctx: ApiContext) => Promise<void>;

/** Every route group of the API; a new group is one line here. */
export const ROUTES: ApiRoutes[] = [healthRoutes, sensorRoutes, roomRoutes, exportRoutes, wsRoutes];
ROUTES.push(deviceControlRoutes);
ROUTES.push(scheduleRoutes);
ROUTES.push(relayRoutes, analyticsRoutes);
ROUTES.push(alertRoutes);
ROUTES.push(journalRoutes);
ROUTES.push(cycleRoutes, energyRoutes);

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
  408: 'Request Timeout',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/**
 * Closes a connection whose first request has not arrived (headers
 * complete) within `ms`: slowloris and half-open connections. Node's own
 * headersTimeout check does not fire under Fastify here, so this does not
 * depend on it.
 */
function guardFirstRequest(server: http.Server, ms: number, tls: boolean): void {
  const timers = new WeakMap<object, NodeJS.Timeout>();
  server.on(tls ? 'secureConnection' : 'connection', (s: Socket) => {
    const t = setTimeout(() => s.destroy(), ms);
    t.unref();
    timers.set(s, t);
    s.once('close', () => clearTimeout(t));
  });
  const seen = (req: http.IncomingMessage) => clearTimeout(timers.get(req.socket));
  server.on('request', seen);
  server.on('upgrade', seen);
}

/**
 * The HTTP(S) server with every timeout set: headers (slowloris), whole
 * request, keep-alive and idle connections; expired connections are found
 * every second. HTTPS when a certificate and key are configured.
 */
export function createServer(o: ApiOptions, handler: http.RequestListener): http.Server {
  const opts: http.ServerOptions = {
    headersTimeout: o.headersTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, o.headersTimeoutMs),
    maxHeaderSize: 16 * 1024,
  };
  let server: http.Server;
  if (o.tlsCert && o.tlsKey) {
    let tls: { cert: Buffer; key: Buffer };
    try {
      tls = { cert: fs.readFileSync(o.tlsCert), key: fs.readFileSync(o.tlsKey) };
    } catch (cause) {
      throw new ConfigError('CANOPY_API_TLS_CERT / CANOPY_API_TLS_KEY cannot be read', { cause });
    }
    try {
      server = https.createServer(
        { ...opts, ...tls, handshakeTimeout: o.headersTimeoutMs },
        handler,
      ) as unknown as http.Server;
    } catch (cause) {
      throw new ConfigError('CANOPY_API_TLS_CERT / CANOPY_API_TLS_KEY are not a usable PEM certificate and key', {
        cause,
      });
    }
  } else server = http.createServer(opts, handler);
  server.setTimeout(o.idleTimeoutMs);
  server.maxRequestsPerSocket = o.maxRequestsPerSocket;
  guardFirstRequest(server, o.headersTimeoutMs, Boolean(o.tlsCert));
  return server;
}

/**
 * The readable API reference at /docs (Swagger UI, served from the package's own files: no CDN);
 * the OpenAPI document stays at /docs/json (and /docs/yaml). Same access rules as every read.
 */
const API_REFERENCE = {
  routePrefix: '/docs',
  validatorUrl: false as const,
  uiConfig: { docExpansion: 'list' as const, deepLinking: true, defaultModelsExpandDepth: -1, tryItOutEnabled: false },
  theme: {
    title: 'Canopy API reference',
    css: [
      {
        filename: 'canopy.css',
        // readable in a dark room: the light page inverted (colours of methods kept by the hue turn)
        content:
          '.swagger-ui .topbar{display:none}' +
          '@media (prefers-color-scheme: dark){html{background:#111}body{filter:invert(.9) hue-rotate(180deg)}}',
      },
    ],
  },
};

/** The Fastify app with every route; not listening yet. */
export async function buildApp(ctx: ApiContext, extra: ApiRoutes[] = []): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: ctx.options.maxBodyBytes,
    // stop() closes every connection, a stalled one included
    forceCloseConnections: true,
    serverFactory: (handler) => createServer(ctx.options, handler),
    schemaErrorFormatter: (errors, dataVar) => new Error(describeSchemaError(errors as SchemaError[], dataVar)),
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<TypeBoxTypeProvider>();

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
  installAccess(app, ctx);

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

  const plugin: FastifyPluginAsyncTypebox = async (scoped) => {
    for (const r of [...ROUTES, ...extra]) await r(scoped, ctx);
    scoped.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['system'] } }, async (_req, reply) =>
      reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.metrics()),
    );
  };
  await app.register(plugin);
  await app.register(fastifySwaggerUi, API_REFERENCE);

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
