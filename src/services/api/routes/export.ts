import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { ApiApp } from '../app.js';
import { ApiError, timeRange, withStore, type ApiContext } from '../context.js';
import { errorResponses, errorSchema, StringEnum, timeParams } from '../schemas.js';
import type { ReadingRow } from '../store-port.js';

interface ExportQuery {
  sensors: string[];
  from: number;
  to: number;
}

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
 * The export's rows page by page. Each page is one short store call (a
 * pooled connection or the SQLite handle is held only for it); the next
 * page starts at the last row's time, skipping the rows already sent at
 * that time. No snapshot is held, so rows written meanwhile may appear.
 */
async function* pages(
  ctx: ApiContext,
  q: ExportQuery,
  pageRows: number,
  first: ReadingRow[],
): AsyncGenerator<ReadingRow[], void, undefined> {
  let page = first;
  let from = q.from;
  let skip = 0;
  for (;;) {
    if (page.length > 0) yield page;
    if (page.length < pageRows) return;
    const last = page[page.length - 1]!.time;
    let atLast = 0;
    for (let i = page.length - 1; i >= 0 && page[i]!.time === last; i--) atLast++;
    skip = last === from ? skip + page.length : atLast;
    from = last;
    const at = { from, skip };
    page = await withStore(ctx, 'export', (s) => s.exportPage({ ...q, ...at, limit: pageRows }));
  }
}

/** The export as text, one chunk per page. */
async function* exportChunks(
  rows: AsyncIterable<ReadingRow[]>,
  format: 'csv' | 'json',
): AsyncGenerator<string, void, undefined> {
  yield format === 'csv' ? 'time,sensor,value,location,cluster\n' : '[';
  let n = 0;
  for await (const page of rows) {
    let buf = '';
    for (const r of page) buf += format === 'csv' ? csvRow(r) : `${n++ === 0 ? '\n' : ',\n'}${jsonRow(r)}`;
    yield buf;
  }
  if (format === 'json') yield '\n]\n';
}

/**
 * Tracks whether the client takes the export: `stalled` is true when the
 * stream has wanted nothing for `ms` while no store read was in progress.
 */
function watched<T>(src: AsyncGenerator<T>): { gen: AsyncGenerator<T>; idleFor: () => number } {
  let since = performance.now();
  let reading = false;
  async function* gen(): AsyncGenerator<T> {
    try {
      for (;;) {
        reading = true;
        const r = await src.next();
        reading = false;
        since = performance.now();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await src.return(undefined);
    }
  }
  return { gen: gen(), idleFor: () => (reading ? 0 : performance.now() - since) };
}

/** GET /api/export (viewer token, see access.ts) */
export async function exportRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  const o = ctx.options;
  let active = 0;
  app.get(
    '/api/export',
    {
      schema: {
        summary: 'Raw readings of some sensors over any range, streamed (CSV or a JSON array); viewer token',
        tags: ['history'],
        security: [{ bearer: [] }],
        querystring: Type.Object({
          sensors: Type.String({ minLength: 1, maxLength: 4096, description: 'sensor names, comma separated' }),
          ...timeParams,
          format: StringEnum(['csv', 'json'], { default: 'csv' }),
        }),
        response: {
          200: { description: 'CSV (time,sensor,value,location,cluster) or a JSON array of rows', type: 'string' },
          ...errorResponses,
          401: errorSchema,
          403: errorSchema,
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
            : `query parameter "sensors" names unknown sensors: ${unknown.slice(0, 10).join(', ')} (see GET /api/sensors)`,
        );
      }
      const { from, to } = timeRange(req.query, o.defaultHistoryRangeMs);
      const format = req.query.format;
      if (active >= o.exportMaxConcurrent) {
        ctx.metrics.refused('API_BUSY');
        reply.header('retry-after', '10');
        throw new ApiError(503, 'API_BUSY', `${o.exportMaxConcurrent} exports are running; try again shortly`);
      }
      active++;
      let released = false;
      const release = () => {
        if (!released) active--;
        released = true;
      };
      // the slot is freed however the answer ends (finished, cut, or the client gone midway)
      reply.raw.once('close', release);
      if (req.raw.socket?.destroyed) release();
      try {
        const q = { sensors: names, from, to };
        const rows = await withStore(ctx, 'export', (s) => s.countExport(q, o.exportMaxRows + 1));
        if (rows > o.exportMaxRows) {
          ctx.metrics.refused('API_EXPORT_TOO_LARGE');
          throw new ApiError(
            400,
            'API_EXPORT_TOO_LARGE',
            `the export holds more than ${o.exportMaxRows} rows: narrow "from"/"to" or the sensors, or export in parts`,
          );
        }
        const first = await withStore(ctx, 'export', (s) => s.exportPage({ ...q, skip: 0, limit: o.exportPageRows }));
        const w = watched(exportChunks(pages(ctx, q, o.exportPageRows, first), format));
        const body = Readable.from(w.gen, { objectMode: false });
        body.on('error', (err) => ctx.log.warn({ err: err.message }, 'export stream failed midway'));
        const watchdog = setInterval(
          () => {
            if (w.idleFor() <= o.exportStallMs) return;
            ctx.metrics.refused('API_EXPORT_STALLED');
            ctx.log.info({ who: req.who, idleMs: w.idleFor() }, 'export cut: the client stopped reading');
            clearInterval(watchdog);
            reply.raw.destroy();
            body.destroy();
          },
          Math.max(50, Math.min(1000, o.exportStallMs / 4)),
        );
        watchdog.unref();
        reply.raw.once('close', () => {
          clearInterval(watchdog);
          body.destroy();
        });
        const stamp = `${new Date(from).toISOString()}_${new Date(to).toISOString()}`.replace(/[:]/g, '-');
        return reply
          .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
          .header('content-disposition', `attachment; filename="canopy-export_${stamp}.${format}"`)
          .header('cache-control', 'no-store')
          .send(body);
      } catch (err) {
        release();
        throw err;
      }
    },
  );
}
