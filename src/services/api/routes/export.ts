import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { ApiError, timeRange, withStore, type ApiContext } from '../context.js';
import { errorResponses, timeParams } from '../schemas.js';
import type { ApiStore, ReadingRow } from '../store-port.js';

/** Rows per chunk handed to the socket: few enough syscalls, small enough memory. */
const ROWS_PER_CHUNK = 500;

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvRow(r: ReadingRow): string {
  return `${new Date(r.time).toISOString()},${csvField(r.sensor)},${r.value},${csvField(r.location)},${csvField(r.cluster)}\n`;
}

function jsonRow(r: ReadingRow): string {
  return JSON.stringify({
    time: new Date(r.time).toISOString(),
    sensor: r.sensor,
    value: r.value,
    location: r.location,
    cluster: r.cluster,
  });
}

/**
 * The export as text chunks. Pulled by a Readable: the store's cursor is
 * read only as fast as the client takes the bytes, so memory stays constant
 * for any range.
 */
async function* exportChunks(
  rows: AsyncIterable<ReadingRow>,
  format: 'csv' | 'json',
): AsyncGenerator<string, void, undefined> {
  let buf = format === 'csv' ? 'time,sensor,value,location,cluster\n' : '[';
  let n = 0;
  for await (const r of rows) {
    buf += format === 'csv' ? csvRow(r) : `${n === 0 ? '\n' : ',\n'}${jsonRow(r)}`;
    if (++n % ROWS_PER_CHUNK === 0) {
      yield buf;
      buf = '';
    }
  }
  yield format === 'csv' ? buf : `${buf}\n]\n`;
}

/** Starts the store's iterator and waits for its first row, so a down store is a 503, not a broken body. */
async function primed(store: ApiStore, q: { sensors: string[]; from: number; to: number }) {
  const it = store.exportReadings(q)[Symbol.asyncIterator]();
  const first = await it.next();
  async function* all(): AsyncGenerator<ReadingRow> {
    try {
      if (first.done) return;
      yield first.value;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    } finally {
      await it.return?.();
    }
  }
  return all();
}

/** GET /api/export */
export async function exportRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get<{ Querystring: { sensors: string; from?: string; to?: string; format: 'csv' | 'json' } }>(
    '/api/export',
    {
      schema: {
        summary: 'Raw readings of some sensors over any range, streamed (CSV or a JSON array)',
        tags: ['history'],
        querystring: {
          type: 'object',
          properties: {
            sensors: { type: 'string', minLength: 1, description: 'sensor names, comma separated' },
            ...timeParams,
            format: { type: 'string', enum: ['csv', 'json'], default: 'csv' },
          },
          required: ['sensors'],
        },
        response: {
          200: { description: 'CSV (time,sensor,value,location,cluster) or a JSON array of rows', type: 'string' },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const names = [...new Set(req.query.sensors.split(',').map((s) => s.trim()))].filter((s) => s !== '');
      const unknown = names.filter((n) => !ctx.byName.has(n));
      if (names.length === 0 || unknown.length > 0) {
        throw new ApiError(
          400,
          'API_BAD_PARAMETER',
          names.length === 0
            ? 'query parameter "sensors" must name at least one sensor'
            : `query parameter "sensors" names unknown sensors: ${unknown.join(', ')} (see GET /api/sensors)`,
        );
      }
      const { from, to } = timeRange(req.query, ctx.options.defaultHistoryRangeMs);
      const format = req.query.format;
      const rows = await withStore(ctx, 'export', (s) => primed(s, { sensors: names, from, to }));
      const body = Readable.from(exportChunks(rows, format), { objectMode: false });
      body.on('error', (err) => ctx.log.warn({ err: err.message }, 'export stream failed midway'));
      const stamp = `${new Date(from).toISOString()}_${new Date(to).toISOString()}`.replace(/[:]/g, '-');
      return reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
        .header('content-disposition', `attachment; filename="canopy-export_${stamp}.${format}"`)
        .send(body);
    },
  );
}
