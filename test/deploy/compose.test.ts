import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const DIR = path.resolve('deploy');
const text = fs.readFileSync(path.join(DIR, 'compose.yaml'), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  secrets?: string[];
  healthcheck?: { test: string[] };
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file: string }>;
}

const composePlugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;

describe('deploy/compose.yaml', () => {
  it('is a valid compose file: Redis, TimescaleDB, Grafana and Canopy, wired together', () => {
    // No compose plugin here (`docker compose` is unknown to this docker client), so the
    // file is checked structurally; with the plugin, `docker compose config` runs as well (below).
    const c = parseYaml(text) as Compose;
    expect(Object.keys(c.services).sort()).toEqual(['canopy', 'grafana', 'redis', 'timescaledb']);
    expect(c.services.timescaledb?.image).toMatch(/^timescale\/timescaledb:/);
    expect(c.services.redis?.image).toMatch(/^redis:7/);
    expect(c.services.grafana?.image).toMatch(/^grafana\/grafana/);
    const build = c.services.canopy?.build;
    expect(fs.existsSync(path.join(DIR, build?.context ?? '', build?.dockerfile ?? ''))).toBe(true);
    for (const [name, s] of Object.entries(c.services)) {
      expect(s.image ?? s.build, name).toBeTruthy();
      for (const dep of Object.keys(s.depends_on ?? {})) {
        expect(c.services[dep], `${name} depends on ${dep}`).toBeDefined();
        expect(c.services[dep]?.healthcheck, `${dep} has a healthcheck for service_healthy`).toBeDefined();
      }
      for (const v of s.volumes ?? []) {
        const [src] = v.split(':');
        if (src?.startsWith('.')) expect(fs.existsSync(path.join(DIR, src)), `${name}: ${v}`).toBe(true);
        else expect(c.volumes, `${name}: named volume ${src}`).toHaveProperty(src as string);
      }
      for (const sec of s.secrets ?? []) expect(c.secrets, sec).toHaveProperty(sec);
    }
    // canopy runs on the host network (SocketCAN); Redis and PostgreSQL publish on loopback only
    const env = c.services.canopy?.environment ?? {};
    expect((c.services.canopy as { network_mode?: string }).network_mode).toBe('host');
    expect(env.REDIS_URL).toMatch(/^redis:\/\/canopy:\$\{REDIS_PASSWORD:\?[^}]*\}@127\.0\.0\.1:6379$/);
    expect(env.DATABASE_URL).toMatch(/@127\.0\.0\.1:5432\/cea_sensors$/);
    for (const s of ['redis', 'timescaledb'])
      for (const p of (c.services[s] as { ports?: string[] }).ports ?? []) expect(p, s).toMatch(/^127\.0\.0\.1:/);
    // no secret is written in the file: every password is a required variable of .env
    const example = fs.readFileSync(path.join(DIR, '.env.example'), 'utf8');
    for (const m of text.matchAll(/\$\{(\w+)(:[?-][^}]*)?\}/g)) expect(example, m[1]).toMatch(new RegExp(`^${m[1]}=`, 'm'));
    expect(text).not.toMatch(/PASSWORD: (?!\$\{)/);
    // Redis in the container: Canopy's redis.conf plus container overrides, which include it
    const conf = fs.readFileSync(path.join(DIR, 'redis/compose.conf'), 'utf8');
    expect(conf).toMatch(/^include \/usr\/local\/etc\/redis\/canopy\.conf$/m);
    expect(conf).toMatch(/^aclfile \/run\/secrets\/redis_users$/m);
    if (composePlugin) {
      // the authoritative check, where the docker compose plugin is installed
      const r = spawnSync('docker', ['compose', '-f', 'compose.yaml', '--env-file', '.env.example', 'config', '-q'], {
        cwd: DIR,
        encoding: 'utf8',
      });
      expect(r.stderr + r.stdout).toBe('');
      expect(r.status).toBe(0);
    }
  });
});
