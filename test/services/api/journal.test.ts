import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ApiHandle } from '../../../src/services/api/index.js';
import { tempDir } from '../../support/tmp.js';
import { getJson, startApi, VIEWER_TOKEN } from './helpers.js';

const OPERATOR_TOKEN = 'operator-token-for-journal-tests-7';
let api: ApiHandle;

const post = (body: unknown, token = OPERATOR_TOKEN) =>
  fetch(`${api.url}/api/journal`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

beforeAll(async () => {
  ({ api } = await startApi({
    databaseUrl: `sqlite:${path.join(tempDir(), 'canopy.db')}`,
    tokens: `viewer@test-viewer:${VIEWER_TOKEN},operator@grower:${OPERATOR_TOKEN}`,
  }));
}, 60_000);

describe('/api/journal (real SQLite store)', () => {
  it('an operator adds notes to a room; they come back newest first with who wrote them', async () => {
    const a = await post({ location: 'Flower Room', text: 'Defoliated the canopy' });
    expect(a.status).toBe(201);
    expect(await a.json()).toMatchObject({ location: 'Flower Room', text: 'Defoliated the canopy', by: 'grower' });
    const b = await post({ location: 'Flower Room', cluster: 'back', text: '  Flushed back bench ' });
    expect(b.status).toBe(201);
    expect((await post({ location: 'Veg Room', text: 'Transplanted' })).status).toBe(201);
    const r = await getJson(api, `/api/journal?location=${encodeURIComponent('Flower Room')}`);
    expect(r.status).toBe(200);
    const entries = r.body.entries as { text: string; cluster?: string | null; time: number }[];
    expect(entries.map((e) => [e.text, e.cluster ?? null])).toEqual([
      ['Flushed back bench', 'back'],
      ['Defoliated the canopy', null],
    ]);
    expect(entries[0]?.time).toBeGreaterThan(Date.now() - 60_000);
    const all = await getJson(api, '/api/journal');
    expect((all.body.entries as unknown[]).length).toBe(3);
    const past = await getJson(api, `/api/journal?from=0&to=${Date.now() - 3_600_000}`);
    expect(past.body.entries).toEqual([]);
  });

  it('refuses a viewer, an unknown room or cluster, blank and over-long text; the writer cannot be forged', async () => {
    expect((await post({ location: 'Flower Room', text: 'x' }, VIEWER_TOKEN)).status).toBe(403);
    const cases: [unknown, string][] = [
      [{ location: 'Attic', text: 'x' }, 'location'],
      [{ location: 'Flower Room', cluster: 'middle', text: 'x' }, 'cluster'],
      [{ location: 'Flower Room', text: '    ' }, 'text'],
      [{ location: 'Flower Room', text: 'x'.repeat(2001) }, 'text'],
      [{ location: 'Flower Room' }, 'text'],
    ];
    for (const [body, field] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      const err = (await res.json()) as { code: string; message: string };
      expect(err.code).toBe('API_BAD_PARAMETER');
      expect(err.message).toContain(field);
    }
    const all = await getJson(api, '/api/journal');
    expect((all.body.entries as unknown[]).length).toBe(3);
    const forged = await post({ location: 'Veg Room', text: 'Watered', by: 'someone else' });
    expect(await forged.json()).toMatchObject({ text: 'Watered', by: 'grower' });
  });
});
