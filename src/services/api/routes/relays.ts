import { RELAY_SCOPE } from '../../../contracts/names.js';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiApp } from '../app.js';
import { Registry } from '../../../bus/registry.js';
import { withRedis, type ApiContext } from '../context.js';
import { errorResponses, Nullable } from '../schemas.js';

/**
 * The gateway refreshes a connected relay's record at every ping (30 s by
 * default) and deletes it on disconnect; a record not refreshed for this
 * long is left by a gateway that stopped without cleaning up.
 */
export const RELAY_STALE_MS = 90_000;

/** One connected relay, as listed (from the record the gateway keeps in `identity:relay:{connection}`). */
const RelaySchema = Type.Object({
  connection: Type.String({ description: 'the gateway connection id' }),
  user: Type.String(),
  remote: Nullable(Type.String({ description: "the relay's address as the gateway saw it" })),
  codec: Nullable(Type.String()),
  version: Nullable(Type.String({ description: "the relay's version when the gateway recorded one" })),
  connected_at: Nullable(Type.String()),
  last_seen: Nullable(Type.String()),
  stale: Type.Boolean({ description: 'not refreshed by the gateway for 90 s' }),
  received: Type.Integer(),
  published: Type.Integer(),
  rejected: Type.Integer(),
  delivered: Type.Integer(),
});
export type RelayInfo = Static<typeof RelaySchema>;

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** A registry record as a {@link RelayInfo}; undefined when it names no user. */
export function relayInfo(connection: string, d: Record<string, unknown>, now: number): RelayInfo | undefined {
  const user = str(d.user);
  if (user === null) return undefined;
  const last = str(d.last_seen);
  const lastMs = last === null ? NaN : Date.parse(last);
  return {
    connection,
    user,
    remote: str(d.remote),
    codec: str(d.codec),
    version: str(d.version),
    connected_at: str(d.connected_at) ?? str(d.first_seen),
    last_seen: last,
    stale: !Number.isFinite(lastMs) || now - lastMs > RELAY_STALE_MS,
    received: num(d.received),
    published: num(d.published),
    rejected: num(d.rejected),
    delivered: num(d.delivered),
  };
}

/** GET /api/relays: the edge relays connected to the gateway, from the identity registry (SCAN, never KEYS). */
export async function relayRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  const registry = new Registry(ctx.conn);
  app.get(
    '/api/relays',
    {
      schema: {
        summary: 'Connected edge relays (identity:relay:*), oldest connection first per user',
        tags: ['relays'],
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }) }),
        response: {
          200: Type.Object({
            relays: Type.Array(RelaySchema),
            users: Type.Array(Type.String(), { description: 'distinct users, sorted' }),
            total: Type.Integer(),
            truncated: Type.Boolean(),
          }),
          400: errorResponses[400],
          503: errorResponses[503],
        },
      },
    },
    async (req) => {
      const entries = await withRedis(ctx, 'SCAN identity:relay:*', () => registry.list(RELAY_SCOPE));
      const now = Date.now();
      const all = entries
        .map((e) => relayInfo(e.id, e.data, now))
        .filter((r): r is RelayInfo => r !== undefined)
        .sort(
          (a, b) =>
            a.user.localeCompare(b.user) ||
            (a.connected_at ?? '').localeCompare(b.connected_at ?? '') ||
            a.connection.localeCompare(b.connection),
        );
      return {
        relays: all.slice(0, req.query.limit),
        users: [...new Set(all.map((r) => r.user))],
        total: all.length,
        truncated: all.length > req.query.limit,
      };
    },
  );
}
