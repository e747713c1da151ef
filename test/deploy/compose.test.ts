import { spawnSync } from '../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

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
    expect(c.services.redis?.image).toMatch(/^redis:7\./);
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
    expect(conf).toMatch(/^aclfile \/run\/redis-acl\/users\.acl$/m);
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

  it('pins every image, publishes Grafana and the databases on loopback only', () => {
    const c = parseYaml(text) as Compose & { services: Record<string, { ports?: string[] }> };
    for (const [name, s] of Object.entries(c.services)) {
      if (!s.image || s.build) continue;
      // a full version (x.y.z), never latest or a moving major/minor tag
      expect(s.image, name).toMatch(/:\d+\.\d+\.\d+(-[\w.]+)?$|@sha256:[0-9a-f]{64}$/);
    }
    for (const [name, s] of Object.entries(c.services))
      for (const p of s.ports ?? []) expect(p, name).toMatch(/^127\.0\.0\.1:/);
    expect(c.services.grafana?.ports).toEqual(['127.0.0.1:3000:3000']);
  });

  it('the Dockerfile installs dependencies inside the image, pins its base and copies nothing local', () => {
    const df = fs.readFileSync(path.join(DIR, 'Dockerfile'), 'utf8');
    const froms = [...df.matchAll(/^FROM (\S+)/gm)].map((m) => m[1] as string);
    expect(froms.length).toBe(2);
    for (const f of froms) expect(f).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$|@sha256:[0-9a-f]{64}$/);
    expect(df).toMatch(/^RUN npm ci\b/m);
    // the lock and package.json go in before the sources: npm ci, not a copied node_modules
    expect(df.indexOf('COPY package.json package-lock.json')).toBeLessThan(df.indexOf('RUN npm ci'));
    expect(df).not.toMatch(/^COPY .*(\.env|secrets|credentials|node_modules)/m);
    const ignore = fs
      .readFileSync('.dockerignore', 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['**/node_modules', 'dist', 'data', '.git', '**/.env', '**/*.env', 'deploy/secrets', '**/credentials', '**/*.key', '**/*.db'])
      expect(ignore, p).toContain(p);
  });

  it('redis/users.sh creates every Redis user the services log in as; Redis loads it (real redis-server)', async () => {
    const c = parseYaml(text) as Compose;
    // the users the compose services log in as: the user part of every redis:// URL
    const users = new Set<string>();
    for (const s of Object.values(c.services))
      for (const v of Object.values(s.environment ?? {}))
        for (const m of String(v).matchAll(/redis:\/\/([^:@/]+):/g)) users.add(m[1] as string);
    expect([...users]).toEqual(['canopy']);
    const out = path.join(tempDir('canopy-acl-'), 'users.acl');
    const run = (pw: string) =>
      spawnSync('sh', [path.join(DIR, 'redis/users.sh'), out], { encoding: 'utf8', env: { PATH: process.env.PATH, REDIS_PASSWORD: pw } });
    expect(run('change-me').status).toBe(1); // the template's placeholder is refused
    const password = 'compose-pw-0123456789';
    expect(run(password).status).toBe(0);
    const acl = fs.readFileSync(out, 'utf8');
    expect(acl).not.toContain(password);
    expect(fs.statSync(out).mode & 0o077).toBe(0);
    for (const u of users) expect(acl).toMatch(new RegExp(`^user ${u} on #[0-9a-f]{64} `, 'm'));
    expect(acl).toMatch(/^user default off$/m);
    const redis = await startRedis({ extraConfig: [`aclfile ${out}`] });
    const cl = createClient({ url: `redis://canopy:${password}@127.0.0.1:${redis.port}` });
    cl.on('error', () => undefined);
    await cl.connect();
    expect(await cl.ping()).toBe('PONG');
    await expect(cl.sendCommand(['FLUSHALL'])).rejects.toThrow(/NOPERM/);
    cl.destroy();
    const anon = spawnSync('redis-cli', ['-p', String(redis.port), 'ping'], { encoding: 'utf8' });
    expect(anon.stdout).toMatch(/NOAUTH|WRONGPASS|NOPERM/);
  });
});
