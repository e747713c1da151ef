/**
 * fast-check fuzz of the API's query strings (history and export
 * parameters, path names, raw query bytes) against the real app, a real
 * Redis and a real SQLite store: every answer is a 4xx with a stable code and
 * a message, or a valid answer — never a 5xx, never an exception escaping.
 */
import path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../support/tmp.js';
import { startApi, VIEWER_TOKEN } from '../services/api/helpers.js';

type Ctx = Awaited<ReturnType<typeof startApi>>;
let t: Ctx;
const T0 = Date.UTC(2024, 0, 15);
const NAMES = ['dry_bulb_f', 'rh_f', 'vpd_f', 'co2_v', 'water_temp'];

beforeAll(async () => {
  const url = `sqlite:${path.join(tempDir(), 'fuzz.db')}`;
  const store = await openStore(url);
  const readings = [];
  for (const sensor of NAMES)
    for (let i = 0; i < 2000; i++)
      readings.push({
        streamId: `${i}-${sensor}`,
        time: T0 + i * 60_000,
        sensor,
        value: i % 50,
        location: 'Flower Room',
        cluster: 'front',
      });
  await store.writeBatch({ messages: [], readings });
  await store.close();
  t = await startApi({ databaseUrl: url });
});

/** A query value: plausible, edge or garbage. */
const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer().map(String),
  fc.double({ noNaN: false }).map(String),
  fc.integer({ min: T0 - 86400_000, max: T0 + 3 * 86400_000 }).map(String),
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('', 'NaN', '1e309', '-1', '2024-13-45T99:99:99Z', '9999999999999999', '0', '00000000000000000001'),
);
const sensors = fc.oneof(
  fc.array(fc.constantFrom(...NAMES), { minLength: 0, maxLength: 6 }).map((a) => a.join(',')),
  fc.array(fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 12 })), { maxLength: 6 }).map((a) => a.join(',')),
  fc.string({ maxLength: 300 }),
);

function query(params: Record<string, string | undefined>): string {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(v!)}`)
    .join('&');
}

async function ask(url: string): Promise<void> {
  const res = await t.api.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${VIEWER_TOKEN}` } });
  expect(res.statusCode, `${url} → ${res.statusCode} ${res.body.slice(0, 200)}`).toBeLessThan(500);
  if (res.statusCode >= 400) {
    const b = JSON.parse(res.body) as { code?: unknown; message?: unknown };
    expect(typeof b.code, url).toBe('string');
    expect(typeof b.message, url).toBe('string');
  }
}

describe('fuzz: API query strings', () => {
  it('found by the fuzz: one point over a range across 1970-01-01 answers (it once spun the process forever)', async () => {
    const res = await t.api.app.inject({
      method: 'GET',
      url: '/api/sensors/water_temp/history?from=1969-12-31T23%3A59%3A59.982Z&points=1',
    });
    expect(res.statusCode).toBe(200);
    const b = JSON.parse(res.body) as { buckets: { count: number }[] };
    expect(b.buckets).toHaveLength(1);
    expect(b.buckets[0]!.count).toBe(2000);
  });

  it('history: from, to and points of any shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...NAMES, 'nope', '%00', '..'),
        fc.option(value, { nil: undefined }),
        fc.option(value, { nil: undefined }),
        fc.option(fc.oneof(value, fc.integer({ min: -5, max: 6000 }).map(String)), { nil: undefined }),
        async (name, from, to, points) => {
          const url = `/api/sensors/${encodeURIComponent(name)}/history?${query({ from, to, points })}`;
          const res = await t.api.app.inject({ method: 'GET', url });
          expect(res.statusCode, `${url} → ${res.body.slice(0, 200)}`).toBeLessThan(500);
          if (res.statusCode === 200) {
            const b = JSON.parse(res.body) as { buckets: unknown[]; points: number };
            expect(b.buckets.length).toBeLessThanOrEqual(b.points);
          } else {
            expect(typeof (JSON.parse(res.body) as { code?: unknown }).code).toBe('string');
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('export: sensors, from, to and format of any shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(sensors, { nil: undefined }),
        fc.option(value, { nil: undefined }),
        fc.option(value, { nil: undefined }),
        fc.option(fc.oneof(fc.constantFrom('csv', 'json'), fc.string({ maxLength: 8 })), { nil: undefined }),
        async (s, from, to, format) => {
          await ask(`/api/export?${query({ sensors: s, from, to, format })}`);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('raw query bytes, percent-escapes (valid or not) and repeated keys on every GET route', async () => {
    const escape = fc.oneof(
      fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0')}`),
      fc.constantFrom('%', '%z', '%E0%A4', '%FF%FE', '&&', '==', '+', ';', '#', '[]', 'from[]=1', 'to[a]=2'),
      fc.stringMatching(/^[A-Za-z0-9_.~=&-]{0,12}$/),
    );
    const raw = fc.array(escape, { maxLength: 20 }).map((a) => a.join(''));
    const routes = [
      '/api/sensors',
      '/api/sensors/live',
      '/api/sensors/dry_bulb_f/history',
      '/api/export',
      '/api/rooms',
      '/api/devices',
      '/health',
      '/metrics',
    ];
    const before = process.memoryUsage().rss;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), raw, async (route, q) => {
        await ask(`${route}?${q}`);
      }),
      { numRuns: 1000 },
    );
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });
});
