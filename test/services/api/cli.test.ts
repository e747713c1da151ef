import { spawn } from 'node:child_process';
import { spawnSync } from '../../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../src/ops/ports.js';
import { packageRoot } from '../../../src/services/api/options.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { registerChild } from '../../support/cleanup.js';

const CLI = path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

describe('canopy api (CLI)', () => {
  it('--help documents --port and --host', () => {
    const r = spawnSync(process.execPath, [CLI, 'api', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--port <port>/);
    expect(r.stdout).toMatch(/--host <host>/);
  });

  it('serves the API on the port from CANOPY_API_PORT, prints the URL, and stops on SIGTERM', async () => {
    const redis = await startRedis();
    const port = await freePort();
    // the node map from CANOPY_NODES (passed down by the api's configuration, the domain reads no environment)
    const nodes = path.join(tempDir(), 'nodes.yaml');
    fs.writeFileSync(nodes, fs.readFileSync('config/nodes.yaml', 'utf8').replaceAll('Flower Room', 'Test Room'));
    const child = spawn(process.execPath, [CLI, 'api'], {
      env: {
        ...process.env,
        REDIS_URL: redis.url,
        CANOPY_API_PORT: String(port),
        CANOPY_DATA_DIR: tempDir(),
        CANOPY_NODES: nodes,
        LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    registerChild(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 300 && !out.includes('Canopy API'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain(`http://127.0.0.1:${port}/`);
    const res = await fetch(`http://127.0.0.1:${port}/api/sensors`);
    expect(res.status).toBe(200);
    const locations = new Set(
      ((await res.json()) as { sensors: { location: string }[] }).sensors.map((x) => x.location),
    );
    expect(locations.has('Test Room')).toBe(true);
    expect(locations.has('Flower Room')).toBe(false);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses a bad port and a loose tokens file with a clear message', async () => {
    const r = spawnSync(process.execPath, [CLI, 'api', '--port', 'eighty'], {
      encoding: 'utf8',
      env: { ...process.env, LOG_LEVEL: 'fatal' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/'--port <port>' argument 'eighty' is invalid\. "eighty" is not a whole number/);
    const file = path.join(tempDir(), 'tokens');
    fs.writeFileSync(file, 'admin:0123456789abcdef0123\n', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    const loose = spawnSync(process.execPath, [CLI, 'api', '--port', '0'], {
      encoding: 'utf8',
      env: { ...process.env, LOG_LEVEL: 'fatal', CANOPY_API_TOKENS_FILE: file },
    });
    expect(loose.status).toBe(1);
    expect(loose.stderr).toMatch(/mode 644; it must be 0600 or tighter/);
    expect(loose.stderr + loose.stdout).not.toContain('0123456789abcdef0123');
  });
});
