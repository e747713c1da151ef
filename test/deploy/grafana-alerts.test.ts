import { spawnSync } from '../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { openStore } from '../../src/store/index.js';
import { startPostgres } from '../support/postgres.js';
import { tempDir } from '../support/tmp.js';
import { expandMacros } from './grafana-macros.js';
import { seedSimulated, SIM_SENSORS } from './grafana-seed.js';
import { install } from './install-run.js';

const RULES_FILE = 'deploy/grafana/provisioning/alerting/canopy.yaml';

interface Evaluator {
  type: string;
  params: number[];
}
interface Query {
  refId: string;
  relativeTimeRange: { from: number; to: number };
  datasourceUid: string;
  model: {
    refId: string;
    type?: string;
    expression?: string;
    rawSql?: string;
    format?: string;
    conditions?: { evaluator: Evaluator }[];
  };
}
interface Rule {
  uid: string;
  title: string;
  condition: string;
  data: Query[];
  noDataState: string;
  execErrState: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface RulesFile {
  apiVersion: number;
  groups: { orgId: number; name: string; folder: string; interval: string; rules: Rule[] }[];
}

const rulesFile = parseYaml(fs.readFileSync(RULES_FILE, 'utf8')) as RulesFile;
const rules = rulesFile.groups.flatMap((g) => g.rules);
const datasourceUid = (
  parseYaml(fs.readFileSync('deploy/grafana/provisioning/datasources/canopy.yaml', 'utf8')) as {
    datasources: { uid: string }[];
  }
).datasources[0]?.uid;
const DURATION = /^\d+[smh]$/;

/** The threshold (expression C) of a rule. */
function threshold(r: Rule): Evaluator {
  const c = r.data.find((q) => q.refId === r.condition);
  return c?.model.conditions?.[0]?.evaluator as Evaluator;
}

/** Grafana's threshold expression on one number. */
function fires(e: Evaluator, v: number): boolean {
  const [a = NaN, b = NaN] = e.params;
  switch (e.type) {
    case 'gt':
      return v > a;
    case 'lt':
      return v < a;
    case 'outside_range':
      return v < a || v > b;
    case 'within_range':
      return v > a && v < b;
    default:
      throw new Error(`unknown evaluator ${e.type}`);
  }
}

describe('Grafana alert rules (provisioning YAML)', () => {
  it('is structurally what Grafana unified alerting provisions', () => {
    expect(rulesFile.apiVersion).toBe(1);
    expect(rulesFile.groups.length).toBeGreaterThan(0);
    for (const g of rulesFile.groups) {
      expect(g.orgId).toBe(1);
      expect(g.folder).toBe('Canopy');
      expect(g.interval).toMatch(DURATION);
      expect(g.rules.length).toBeGreaterThan(0);
    }
    expect(new Set(rules.map((r) => r.uid)).size).toBe(rules.length);
    expect(new Set(rules.map((r) => r.title)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.uid, r.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
      expect(r.for, r.uid).toMatch(DURATION);
      expect(['Alerting', 'NoData', 'OK'], r.uid).toContain(r.noDataState);
      expect(['Alerting', 'Error', 'OK'], r.uid).toContain(r.execErrState);
      expect(['critical', 'warning', 'info'], r.uid).toContain(r.labels.severity);
      expect(r.annotations.summary, r.uid).toMatch(/\{\{ \$labels\.sensor \}\}/);
      const refs = r.data.map((q) => q.refId);
      expect(new Set(refs).size, r.uid).toBe(refs.length);
      expect(refs, r.uid).toContain(r.condition);
      for (const q of r.data) {
        expect(q.model.refId, r.uid).toBe(q.refId);
        if (q.datasourceUid === '__expr__') {
          expect(['threshold', 'reduce', 'math'], r.uid).toContain(q.model.type);
          expect(refs, `${r.uid}: ${q.refId} reads ${q.model.expression}`).toContain(q.model.expression);
          expect(q.model.expression).not.toBe(q.refId);
        } else {
          // a query of the Canopy data source, in table format (one number per row, string labels)
          expect(q.datasourceUid, r.uid).toBe(datasourceUid);
          expect(q.model.format, r.uid).toBe('table');
          expect(q.model.rawSql, r.uid).toMatch(/^SELECT sensor, /);
          expect(q.relativeTimeRange.from, r.uid).toBeGreaterThan(0);
        }
      }
      const e = threshold(r);
      expect(e.params.length, r.uid).toBe(e.type.endsWith('_range') ? 2 : 1);
      if (e.type.endsWith('_range')) expect(e.params[0] as number, r.uid).toBeLessThan(e.params[1] as number);
      // the template's value reference names a query of the rule
      for (const m of JSON.stringify(r.annotations).matchAll(/\$values\.(\w+)/g)) expect(refs, r.uid).toContain(m[1]);
    }
    // what the issue asks for: stale sensors and out-of-band values
    expect(rules.some((r) => /FROM sensor_latest/.test(r.data[0]?.model.rawSql ?? ''))).toBe(true);
    expect(rules.filter((r) => threshold(r).type === 'outside_range').length).toBeGreaterThanOrEqual(4);
  });

  it('agrees with the limits of config/alerts.yaml (canopy alerts)', () => {
    const cfg = parseYaml(fs.readFileSync('config/alerts.yaml', 'utf8')) as {
      stale_after_s: number;
      rules: { sensor: string; above?: number; below?: number }[];
    };
    const stale = rules.find((r) => /FROM sensor_latest/.test(r.data[0]?.model.rawSql ?? '')) as Rule;
    expect(threshold(stale)).toEqual({ type: 'gt', params: [cfg.stale_after_s] });
    let compared = 0;
    for (const r of rules.filter((x) => x.labels.sensors)) {
      const [lo, hi] = threshold(r).params;
      for (const c of cfg.rules.filter((x) => x.sensor === r.labels.sensors)) {
        if (c.above !== undefined) expect(hi, `${r.uid} vs ${c.sensor} above`).toBe(c.above);
        if (c.below !== undefined) expect(lo, `${r.uid} vs ${c.sensor} below`).toBe(c.below);
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(5);
  });
});

describe('Grafana alert rules on real PostgreSQL, as grafana_reader', () => {
  it('every query runs read-only and the thresholds fire for exactly the stale and out-of-band sensors', async () => {
    const server = await startPostgres();
    const root = tempDir('canopy-root-');
    await install(root, ['--postgres', '--pg-admin', server.url, '--pg-port', String(server.port)]);
    const pw = Object.fromEntries(
      fs
        .readFileSync(path.join(root, 'etc/canopy/postgres.credentials'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    const base = `127.0.0.1:${server.port}/cea_sensors`;
    // the store creates the schema as canopy, as the worker does at its first start
    const store = await openStore(`postgres://canopy:${pw.canopy}@${base}`, { sweepIntervalMs: 0 });
    await store.close();
    const canopy = new pg.Client({ connectionString: `postgres://canopy:${pw.canopy}@${base}` });
    await canopy.connect();
    const now = new Date();
    await seedSimulated(canopy, now, 1);
    const ago = (s: number) => new Date(now.getTime() - s * 1000);
    // rh_f too humid for the last 10 minutes, co2_v implausibly low for the last minute
    await canopy.query("DELETE FROM sensor_readings WHERE sensor = 'rh_f' AND time > $1", [ago(700)]);
    await canopy.query("DELETE FROM sensor_readings WHERE sensor = 'co2_v' AND time > $1", [ago(120)]);
    for (let s = 0; s < 600; s += 30)
      await canopy.query("INSERT INTO sensor_readings VALUES ($1, 'rh_f', 95, 'Flower Room', 'front')", [ago(s)]);
    await canopy.query("INSERT INTO sensor_readings VALUES ($1, 'co2_v', 180, 'Veg Room', 'main')", [ago(20)]);
    await canopy.query(
      `INSERT INTO sensor_latest (sensor, time, value, location, cluster)
       SELECT DISTINCT ON (sensor) sensor, time, value, location, cluster FROM sensor_readings ORDER BY sensor, time DESC`,
    );
    // lab_temp went quiet ten minutes ago
    await canopy.query("UPDATE sensor_latest SET time = $1 WHERE sensor = 'lab_temp'", [ago(600)]);
    await canopy.end();

    const reader = new pg.Client({ connectionString: `postgres://grafana_reader:${pw.grafana_reader}@${base}` });
    await reader.connect();
    const firing: Record<string, string[]> = {};
    for (const r of rules) {
      const q = r.data.find((d) => d.datasourceUid === datasourceUid) as Query;
      const sql = expandMacros(q.model.rawSql as string, { from: ago(q.relativeTimeRange.from), to: now, intervalMs: 60_000 });
      const res = await reader.query(sql).catch((err: Error) => {
        throw new Error(`${r.uid}: ${sql}\n→ ${err.message}`);
      });
      expect(res.rows.length, r.uid).toBeGreaterThan(0);
      // Grafana's table → numbers conversion: exactly one numeric column, the rest string labels
      const numeric = res.fields.filter((f) => typeof res.rows[0]?.[f.name] === 'number');
      const labels = res.fields.filter((f) => typeof res.rows[0]?.[f.name] === 'string');
      expect([numeric.length, labels.map((f) => f.name)], r.uid).toEqual([1, ['sensor']]);
      const value = numeric[0]?.name as string;
      firing[r.uid] = res.rows
        .filter((row) => fires(threshold(r), row[value] as number))
        .map((row) => row.sensor as string)
        .sort();
    }
    expect(firing).toEqual({
      'canopy-stale-sensor': ['lab_temp'],
      'canopy-air-temperature': [],
      'canopy-relative-humidity': ['rh_f'],
      'canopy-vpd': [],
      'canopy-co2': ['co2_v'],
      'canopy-water-temperature': [],
    });
    // every seeded sensor is watched for staleness
    const stale = await reader.query('SELECT sensor FROM sensor_latest');
    expect(stale.rows.length).toBe(SIM_SENSORS.length);
    await reader.end();
  }, 300_000);
});

describe('install.sh --grafana', () => {
  it('provisions the alert rules and a generated admin password passed to Grafana as a credential', async () => {
    const root = tempDir('canopy-root-');
    fs.mkdirSync(path.join(root, 'etc/grafana'), { recursive: true }); // Grafana is installed
    const out = await install(root, ['--grafana'], { CANOPY_GRAFANA_KEY_URL: 'http://127.0.0.1:9/unused' });
    expect(out).toMatch(/Grafana is installed/);
    expect(out).toMatch(/generated Grafana's admin password/);
    expect(fs.readFileSync(path.join(root, 'etc/grafana/provisioning/alerting/canopy.yaml'), 'utf8')).toBe(
      fs.readFileSync(RULES_FILE, 'utf8'),
    );
    const admin = path.join(root, 'etc/canopy/grafana-admin.password');
    expect(fs.readFileSync(admin, 'utf8')).toMatch(/^[A-Za-z0-9]{20,}$/);
    expect([fs.statSync(admin).uid, fs.statSync(admin).mode & 0o777]).toEqual([0, 0o600]);
    // the data source logs in as grafana_reader with the password --postgres generated
    const env = path.join(root, 'etc/canopy/grafana.env');
    const reader = /^grafana_reader=(.+)$/m.exec(fs.readFileSync(path.join(root, 'etc/canopy/postgres.credentials'), 'utf8'))?.[1];
    expect(fs.readFileSync(env, 'utf8')).toContain(`\nCANOPY_PG_PASSWORD=${reader}\n`);
    expect(fs.statSync(env).mode & 0o777).toBe(0o600);
    const dropIn = fs.readFileSync(path.join(root, 'etc/systemd/system/grafana-server.service.d/canopy.conf'), 'utf8');
    expect(dropIn).toMatch(/^LoadCredential=admin_password:\/etc\/canopy\/grafana-admin\.password$/m);
    expect(dropIn).toMatch(/^Environment=GF_SECURITY_ADMIN_PASSWORD__FILE=%d\/admin_password$/m);
    expect(dropIn).toMatch(/^Environment=GF_SERVER_HTTP_ADDR=127\.0\.0\.1$/m);
    expect(dropIn).not.toContain(fs.readFileSync(admin, 'utf8'));

    // the drop-in on a grafana-server unit passes systemd-analyze verify
    fs.cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'usr/lib/systemd/system/grafana-server.service'),
      '[Unit]\nDescription=Grafana\n[Service]\nUser=grafana\nExecStart=/usr/sbin/grafana-server\n[Install]\nWantedBy=multi-user.target\n',
    );
    fs.mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
    fs.writeFileSync(path.join(root, 'usr/sbin/grafana-server'), '#!/bin/sh\n', { mode: 0o755 });
    const v = spawnSync('systemd-analyze', ['verify', `--root=${root}`, 'grafana-server.service'], { encoding: 'utf8' });
    expect(v.stderr + v.stdout).toBe('');
    expect(v.status).toBe(0);

    // idempotent: the password and everything else stay as they are
    const password = fs.readFileSync(admin, 'utf8');
    const again = await install(root, ['--grafana'], { CANOPY_GRAFANA_KEY_URL: 'http://127.0.0.1:9/unused' });
    expect(again).toMatch(/nothing to change/);
    expect(fs.readFileSync(admin, 'utf8')).toBe(password);
  }, 300_000);
});
