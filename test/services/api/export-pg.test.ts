import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/index.js';
import { startPostgres } from '../../support/postgres.js';
import { bearer, startApi } from './helpers.js';

const T0 = Date.UTC(2024, 0, 15);

describe('export on PostgreSQL: a stalled client holds no snapshot and no connection', () => {
  it('between pages nothing is open in the database; the export still completes', async () => {
    const server = await startPostgres();
    const url = await server.createDatabase();
    const writer = await openStore(url);
    const total = 100_000;
    for (let i = 0; i < total; i += 20_000) {
      await writer.writeBatch({
        messages: [],
        readings: Array.from({ length: 20_000 }, (_, j) => ({
          streamId: `${i + j}-pg`,
          time: T0 + (i + j) * 1000,
          sensor: 'co2_f',
          value: (i + j) % 1000,
          location: `Flower Room ${'x'.repeat(300)}`, // wide rows: the export outgrows every socket buffer
          cluster: 'front',
        })),
      });
    }
    await writer.close();
    const { api } = await startApi({ databaseUrl: url, exportPageRows: 1000, exportStallMs: 120_000 });
    const res = await fetch(`${api.url}/api/export?sensors=co2_f&from=${T0}&to=${T0 + total * 1000}`, {
      headers: bearer(),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = dec.decode((await reader.read()).value, { stream: true });
    // the client stops reading; watch the database from outside
    const probe = new pg.Client({ connectionString: url });
    await probe.connect();
    const held = async () =>
      (
        await probe.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()
             AND (state <> 'idle' OR backend_xmin IS NOT NULL)`,
        )
      ).rows[0]!.n;
    let quiet = 0;
    for (let i = 0; i < 100 && quiet < 5; i++) {
      quiet = (await held()) === '0' ? quiet + 1 : 0;
      await new Promise((r) => setTimeout(r, 200));
    }
    // five looks in a row (a second) with no transaction, snapshot or running query of the API's
    expect(quiet).toBe(5);
    const scans = async () =>
      Number(
        (
          await probe.query<{ n: string }>(
            `SELECT coalesce(sum(coalesce(idx_scan, 0) + coalesce(seq_scan, 0)), 0) AS n FROM pg_stat_user_tables`,
          )
        ).rows[0]!.n,
      );
    const paused = await scans();
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += dec.decode(r.value, { stream: true });
    // the export was paused midway: reading on made the API read more pages
    let after = await scans();
    for (let i = 0; i < 50 && after <= paused; i++) {
      await new Promise((r) => setTimeout(r, 200));
      after = await scans();
    }
    expect(after).toBeGreaterThan(paused);
    await probe.end();
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(1 + total);
    expect(new Set(lines).size).toBe(1 + total);
  }, 180_000);
});
