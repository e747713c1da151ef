import fs from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startPostgres } from '../support/postgres.js';
import { expandMacros, intervalSeconds, MacroError, type MacroContext } from './grafana-macros.js';
import { seedSimulated } from './grafana-seed.js';
import { openStore } from '../../src/store/index.js';
import { startTimescale } from '../support/timescale.js';

const G = 'deploy/grafana';
const DASHBOARDS = fs.readdirSync(`${G}/dashboards`).filter((f) => f.endsWith('.json'));

interface Target {
  refId: string;
  rawSql: string;
  format: 'time_series' | 'table';
  datasource: { uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { uid: string; type: string };
  targets: Target[];
}
const dashboards = DASHBOARDS.map((f) => ({
  file: f,
  json: JSON.parse(fs.readFileSync(`${G}/dashboards/${f}`, 'utf8')) as {
    uid: string;
    title: string;
    tags: string[];
    panels: Panel[];
  },
}));
const targets = dashboards.flatMap((d) =>
  d.json.panels.flatMap((p) => p.targets.map((t) => ({ d: d.file, p, t, timescaleOnly: d.json.tags.includes('timescaledb') }))),
);

/** Runs SQL and says which columns came back. */
type Run = (sql: string) => Promise<{ rows: Record<string, unknown>[]; fields: string[] }>;

const viaPg =
  (client: pg.Client): Run =>
  async (sql) => {
    const r = await client.query(sql);
    return { rows: r.rows as Record<string, unknown>[], fields: r.fields.map((f) => f.name) };
  };

/** Runs every panel's SQL, expanded as Grafana would, and checks the shape Grafana needs. */
async function runAll(run: Run, ctx: MacroContext, timescale: boolean) {
  for (const { d, p, t, timescaleOnly } of targets) {
    if (timescaleOnly && !timescale) continue;
    const sql = expandMacros(t.rawSql, ctx);
    const what = `${d} / ${p.title}: ${sql}`;
    const r = await run(sql).catch((err: Error) => {
      throw new Error(`${what}\n→ ${err.message}`);
    });
    expect(r.rows.length, what).toBeGreaterThan(0);
    const fields = r.fields.length > 0 ? r.fields : Object.keys(r.rows[0] ?? {});
    if (t.format === 'time_series') {
      expect(fields, what).toContain('time');
      expect(fields, what).toContain('value');
      for (const row of r.rows.slice(0, 50)) expect(Number.isFinite(Number(row.value)), what).toBe(true);
    }
  }
}

describe('Grafana provisioning', () => {
  it('the data source YAML parses, takes its secrets from the environment, and the dashboards use it', () => {
    const ds = parseYaml(fs.readFileSync(`${G}/provisioning/datasources/canopy.yaml`, 'utf8')) as {
      apiVersion: number;
      datasources: { uid: string; type: string; url: string; jsonData: { database: string }; secureJsonData: { password: string } }[];
    };
    expect(ds.apiVersion).toBe(1);
    const [source] = ds.datasources;
    expect(source?.type).toBe('grafana-postgresql-datasource');
    expect(source?.secureJsonData.password).toBe('${CANOPY_PG_PASSWORD}');
    const text = fs.readFileSync(`${G}/provisioning/datasources/canopy.yaml`, 'utf8');
    const envTemplate = fs.readFileSync('deploy/env/grafana.env.example', 'utf8');
    for (const v of text.matchAll(/\$\{(\w+)\}/g)) expect(envTemplate, v[1]).toMatch(new RegExp(`^${v[1]}=`, 'm'));
    const prov = parseYaml(fs.readFileSync(`${G}/provisioning/dashboards/canopy.yaml`, 'utf8')) as {
      providers: { type: string; options: { path: string } }[];
    };
    expect(prov.providers[0]?.options.path).toBe('/var/lib/grafana/dashboards/canopy');
    expect(dashboards.length).toBeGreaterThanOrEqual(3);
    expect(new Set(dashboards.map((d) => d.json.uid)).size).toBe(dashboards.length);
    for (const d of dashboards) {
      const ids = d.json.panels.map((p) => p.id);
      expect(new Set(ids).size, d.file).toBe(ids.length);
      for (const p of d.json.panels) {
        expect(p.datasource.uid, p.title).toBe(source?.uid);
        expect(p.targets.length, p.title).toBeGreaterThan(0);
        for (const t of p.targets) expect(t.datasource.uid).toBe(source?.uid);
      }
    }
    // what the issue asks the dashboards to show
    const all = JSON.stringify(dashboards.map((d) => d.json));
    for (const s of ['dry_bulb_f', 'wet_bulb_b', 'rh_v', 'vpd_f', 'co2_b', 'pressure_v', 'water_temp', 'lab_temp'])
      expect(all).toContain(s);
    expect(dashboards.flatMap((d) => d.json.panels.map((p) => p.type))).toContain('state-timeline');
    expect(all).toMatch(/FROM alerts/);
    expect(all).toMatch(/FROM readings_1h/);
    expect(all).toMatch(/thresholdsStyle":\{"mode":"area"/);
  });

  it('expands Grafana macros as the server does', () => {
    const ctx = { from: new Date('2024-01-15T10:00:00Z'), to: new Date('2024-01-15T11:00:00Z'), intervalMs: 60_000 };
    expect(expandMacros('WHERE $__timeFilter(time)', ctx)).toBe(
      "WHERE time BETWEEN '2024-01-15T10:00:00Z' AND '2024-01-15T11:00:00Z'",
    );
    expect(expandMacros('SELECT $__timeGroupAlias(time, $__interval)', ctx)).toBe(
      'SELECT floor(extract(epoch from time)/60)*60 AS "time"',
    );
    expect(expandMacros("SELECT $__timeGroup(t, '1h')", { ...ctx, timescaledb: true })).toBe(
      "SELECT time_bucket('3600.000s',t)",
    );
    expect(expandMacros('SELECT $__time(x), $__interval_ms', ctx)).toBe('SELECT x AS "time", 60000');
    expect(intervalSeconds('100ms')).toBeCloseTo(0.1);
    expect(() => expandMacros('SELECT $__nope(x)', ctx)).toThrow(MacroError);
    expect(() => expandMacros('SELECT $room', ctx)).toThrow(/unexpanded/);
  });
});

describe('Grafana panel queries', () => {
  it('every panel returns rows for simulated data on real PostgreSQL', async () => {
    const server = await startPostgres();
    const url = await server.createDatabase();
    // the store's own migrations create the schema Grafana reads
    const store = await openStore(url, { sweepIntervalMs: 0 });
    expect(store.kind).toBe('postgres');
    await store.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const now = new Date();
    await seedSimulated(client, now);
    const ctx = { from: new Date(now.getTime() - 6 * 3600_000), to: now, intervalMs: 60_000 };
    await runAll(viaPg(client), ctx, false);
    // the long-term dashboard reads readings_1h: TimescaleDB's continuous aggregate, and on plain
    // PostgreSQL the store's rollup table of the same shape (filled by writeBatch, not by this seed)
    const lt = targets.find((x) => x.timescaleOnly);
    const r = await client.query(expandMacros(lt?.t.rawSql as string, ctx));
    expect(r.fields.map((f) => f.name)).toContain('time');
    // a time range with no data: the queries still run (and return nothing)
    const empty = { from: new Date('2001-01-01T00:00:00Z'), to: new Date('2001-01-02T00:00:00Z'), intervalMs: 60_000 };
    const sql = expandMacros(targets[1]?.t.rawSql as string, empty);
    expect((await client.query(sql)).rows).toHaveLength(0);
    await client.end();
  });

  it('every panel returns rows for simulated data on TimescaleDB (hypertable, continuous aggregates, time_bucket)', async () => {
    const ts = await startTimescale();
    // the store's migrations on TimescaleDB: hypertables and the continuous aggregates readings_1m/_1h
    const store = await openStore(ts.url, { poolSize: 1, sweepIntervalMs: 0 });
    expect(store.kind).toBe('timescaledb');
    await store.close();
    // PGlite serves one session: seed and query it in this process
    const now = new Date();
    await seedSimulated(ts, now, 2);
    const run: Run = async (sql) => ({ rows: await ts.query(sql), fields: [] });
    const from = new Date(now.getTime() - 2 * 3600_000);
    // as Grafana expands them with the data source's timescaledb option on, and off
    await runAll(run, { from, to: now, intervalMs: 60_000, timescaledb: true }, true);
    await runAll(run, { from, to: now, intervalMs: 3_600_000 }, true);
    await ts.stop();
  });
});
