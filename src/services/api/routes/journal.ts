import { Type } from '@sinclair/typebox';
import type { ApiApp } from '../app.js';
import { requireRole } from '../auth.js';
import { ApiError, timeRange, withStore, type ApiContext } from '../context.js';
import { errorResponses, errorSchema, Nullable } from '../schemas.js';
import { JOURNAL_MAX_TEXT } from '../../../store/types.js';

const EntrySchema = Type.Object({
  id: Type.Integer(),
  time: Type.Number({ description: 'unix ms' }),
  location: Type.String(),
  cluster: Type.Optional(Nullable(Type.String())),
  text: Type.String(),
  by: Type.String({ description: 'the name of the token that wrote it' }),
});

const JournalQuery = Type.Object({
  location: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  from: Type.Optional(Type.String({ description: 'unix ms or ISO-8601 (default: 30 days before `to`)' })),
  to: Type.Optional(Type.String({ description: 'unix ms or ISO-8601 (default: now)' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
});

const JournalBody = Type.Object(
  {
    location: Type.String({ minLength: 1, maxLength: 200 }),
    cluster: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    text: Type.String({ minLength: 1, maxLength: JOURNAL_MAX_TEXT }),
  },
  { additionalProperties: false },
);

const DAY_MS = 86_400_000;

/**
 * The grower's journal: GET /api/journal (notes per room, newest first) and
 * POST /api/journal (operator token; the room must be one of the catalogue's,
 * the text 1–2000 characters that are not only blanks).
 */
export async function journalRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  const operator = requireRole(ctx.auth, 'operator');
  const rooms = new Map<string, Set<string>>();
  for (const s of ctx.catalogue) {
    const set = rooms.get(s.location) ?? new Set<string>();
    set.add(s.cluster);
    rooms.set(s.location, set);
  }

  app.get(
    '/api/journal',
    {
      schema: {
        summary: 'Journal notes of a room (or every room), newest first',
        tags: ['journal'],
        querystring: JournalQuery,
        response: { 200: Type.Object({ entries: Type.Array(EntrySchema) }), ...errorResponses },
      },
    },
    async (req) => {
      const { from, to } = timeRange(req.query, 30 * DAY_MS);
      const entries = await withStore(ctx, 'journal', async (s) => {
        if (!s.listJournal) throw new ApiError(503, 'API_NO_STORE', 'this store keeps no journal');
        return s.listJournal({
          ...(req.query.location ? { location: req.query.location } : {}),
          from,
          to,
          limit: req.query.limit ?? 200,
        });
      });
      return { entries };
    },
  );

  app.post(
    '/api/journal',
    {
      preHandler: operator,
      schema: {
        summary: 'Add a note to a room’s journal (operator token)',
        tags: ['journal'],
        security: [{ bearer: [] }],
        body: JournalBody,
        response: { 201: EntrySchema, ...errorResponses, 401: errorSchema, 403: errorSchema },
      },
    },
    async (req, reply) => {
      const { location, cluster } = req.body;
      const text = req.body.text.trim();
      const clusters = rooms.get(location);
      if (!clusters) {
        throw new ApiError(
          400,
          'API_BAD_PARAMETER',
          `body field "location" must be a room: ${[...rooms.keys()].join(', ')}`,
        );
      }
      if (cluster !== undefined && !clusters.has(cluster)) {
        throw new ApiError(
          400,
          'API_BAD_PARAMETER',
          `body field "cluster" must be one of ${location}: ${[...clusters].join(', ')}`,
        );
      }
      if (!text) throw new ApiError(400, 'API_BAD_PARAMETER', 'body field "text" must not be only blanks');
      const entry = await withStore(ctx, 'journal', async (s) => {
        if (!s.addJournalEntry) throw new ApiError(503, 'API_NO_STORE', 'this store keeps no journal');
        return s.addJournalEntry({
          location,
          ...(cluster ? { cluster } : {}),
          text,
          by: req.who ?? req.role ?? 'operator',
        });
      });
      return reply.code(201).send(entry);
    },
  );
}
