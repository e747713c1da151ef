import { Type } from '@sinclair/typebox';
import type { ApiApp } from '../app.js';
import { Nullable, StringEnum } from '../schemas.js';
import { listLiveInstances } from '../../../bus/fallback/replay.js';
import { readStatusOf, within, type ApiContext } from '../context.js';

export interface ServiceStatus {
  instance: string;
  service: string;
  /** ms since its last beat, or null when unknown. */
  ageMs: number | null;
  /** ms until the heartbeat expires (its TTL is ageMs + ttlLeftMs). */
  ttlLeftMs: number;
  [k: string]: unknown;
}

/** Every live heartbeat (Redis keys and, while Redis is away, the fallback files). */
async function services(ctx: ApiContext): Promise<ServiceStatus[]> {
  const now = Date.now();
  return (await listLiveInstances(ctx.conn, ctx.fabric)).live.map((i) => {
    const beat = i.info?.updated_at ? Date.parse(i.info.updated_at) : NaN;
    return {
      ...(i.info ?? {}),
      instance: i.instance,
      service: i.info?.service ?? 'unknown',
      source: i.source ?? 'redis',
      ageMs: Number.isFinite(beat) ? Math.max(0, now - beat) : null,
      ttlLeftMs: i.ttlMs,
    };
  });
}

async function timed(fn: () => Promise<unknown>, ms: number, what: string) {
  const t0 = performance.now();
  try {
    await within(fn(), ms, what);
    return { status: 'up' as const, latencyMs: Math.round((performance.now() - t0) * 100) / 100 };
  } catch (err) {
    return { status: 'down' as const, error: (err as Error).message };
  }
}

/** The store's read side: where reads go, the replica's state and lag (docs/scaling-postgres.md). */
const readsSchema = Type.Object({
  target: StringEnum(['primary', 'replica']),
  reads: Type.Object({ replica: Type.Integer(), primary: Type.Integer() }),
  fallbacks: Type.Integer({ description: 'reads meant for the replica that the primary served' }),
  replica: Type.Union([
    Type.Object({
      server: Type.String({ description: 'host:port/database' }),
      up: Type.Boolean(),
      lagMs: Nullable(Type.Number({ description: 'how far behind the primary; 0 when all received WAL is replayed' })),
      replayedAt: Nullable(Type.Number({ description: 'unix ms of the last replayed transaction' })),
      streaming: Nullable(Type.Boolean()),
      inRecovery: Nullable(Type.Boolean()),
      error: Type.Optional(Type.String()),
    }),
    Type.Null(),
  ]),
});

/**
 * GET /health: 200 when Redis and the store answer, 503 otherwise. A read replica that is down does not
 * make it 503 (reads fall back to the primary): `reads.replica.up` says so.
 */
export async function healthRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  const dep = Type.Object({
    status: StringEnum(['up', 'down']),
    latencyMs: Type.Optional(Type.Number()),
    error: Type.Optional(Type.String()),
  });
  const body = Type.Object({
    status: StringEnum(['ok', 'down']),
    redis: dep,
    store: dep,
    reads: Type.Optional(readsSchema),
    services: Type.Array(Type.Object({}, { additionalProperties: true })),
    api: Type.Object({ uptimeS: Type.Number(), wsClients: Type.Integer(), updatesSubscribed: Type.Boolean() }),
  });
  app.get(
    '/health',
    {
      schema: {
        summary: 'Redis, store and service status; HTTP 503 when Redis or the store is down',
        tags: ['system'],
        response: { 200: body, 503: body },
      },
    },
    async (_req, reply) => {
      const t = ctx.options.healthTimeoutMs;
      const [redis, store, reads] = await Promise.all([
        ctx.conn.isReady
          ? timed(() => ctx.conn.run('PING', (c) => c.ping()), t, 'Redis PING')
          : Promise.resolve({ status: 'down' as const, error: `Redis connection is ${ctx.conn.health}` }),
        ctx.store
          ? timed(() => ctx.store!.ping(), t, 'store ping')
          : Promise.resolve({ status: 'down' as const, error: 'no history store is configured' }),
        readStatusOf(ctx.store, t).catch(() => undefined),
      ]);
      const list: ServiceStatus[] = await within(services(ctx), t, 'heartbeat scan').catch(() => []);
      const ok = redis.status === 'up' && store.status === 'up';
      return reply.code(ok ? 200 : 503).send({
        status: ok ? 'ok' : 'down',
        redis,
        store,
        ...(reads ? { reads } : {}),
        services: list,
        api: {
          uptimeS: Math.round((performance.now() - ctx.startedAt) / 1000),
          wsClients: ctx.hub.stats.clients,
          updatesSubscribed: ctx.feed?.ready ?? false,
        },
      });
    },
  );
}
