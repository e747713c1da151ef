import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FabricFiles } from '../../src/bus/fallback/records.js';
import { freePort } from '../../src/ops/ports.js';
import { startServiceRuntime, type ServiceRuntime } from '../../src/services/common/runtime.js';
import { createLogger } from '../../src/util/log.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';
import { connect, waitFor } from './helpers.js';

const run = promisify(execFile);
let redis: TestRedis;
let dataDir: string;
let rt: ServiceRuntime;

const canopy = (args: string[], env: Record<string, string>) =>
  run(process.execPath, ['dist/src/cli/main.js', ...args], {
    env: { ...process.env, CANOPY_DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env },
    timeout: 60_000,
  }).catch((e: { stdout: string; stderr: string; code: number }) => e);

beforeAll(async () => {
  redis = await startRedis();
  dataDir = tempDir('canopy-data-');
  rt = await startServiceRuntime({
    service: 'offline',
    instance: 'h:offline:1',
    connection: { url: redis.url },
    log: createLogger('offline', 'silent'),
    fabricDir: path.join(dataDir, 'fabric'),
    useRedis: false,
    janitor: { intervalMs: 300 },
  });
});
afterAll(async () => {
  await rt?.close();
});

describe('USE_REDIS=false and canopy admin without Redis', () => {
  it('a service with useRedis false keeps its heartbeat and identities in files only', async () => {
    const conn = await connect(redis.url);
    const hbFile = path.join(dataDir, 'fabric', 'heartbeats', 'h%3Aoffline%3A1.json');
    expect(fs.existsSync(hbFile)).toBe(true);
    expect(await conn.client.exists('heartbeat:h:offline:1')).toBe(0);
    await rt.registry.touch('relay', 'r1', { user: 'u' });
    expect(await rt.registry.read('relay', 'r1')).toMatchObject({ user: 'u', seen_count: 1 });
    const rounds = rt.janitor.stats.rounds;
    await waitFor(() => rt.janitor.stats.rounds >= rounds + 2, 'two janitor rounds');
    // no replay to Redis on purpose, no lease taken
    expect(await conn.client.exists(['identity:relay:r1', 'lease:identity-cleanup'])).toBe(0);
    expect((await rt.registry.list('relay')).map((e) => e.id)).toEqual(['r1']);
  });

  it('canopy admin list/send go through the files with USE_REDIS=false', async () => {
    const files = new FabricFiles({ dir: path.join(dataDir, 'fabric') });
    // an expired heartbeat file: readers honour expires_at
    await files.writeHeartbeat(
      { service: 'ghost', instance: 'h:ghost:9', pid: 9, host: 'h', version: '0', started_at: '', updated_at: '' },
      -1000,
    );
    const list = await canopy(['admin', 'list'], { USE_REDIS: 'false' });
    expect(list.stdout).toMatch(/h:offline:1\s+offline\s.*\sfile/);
    expect(list.stdout).not.toContain('ghost');
    const ping = await canopy(['admin', 'send', 'offline', 'ping', '--timeout', '30000'], { USE_REDIS: 'false' });
    expect(ping.stderr).toBe('');
    expect(ping.stdout).toMatch(/^h:offline:1: ok \{"pong":true,"instance":"h:offline:1"/);
    const status = await canopy(['admin', 'h:offline:1', 'status', '--timeout', '30000'], { USE_REDIS: 'false' });
    expect(status.stdout).toContain('"service":"offline"');
    expect(rt.mailbox.stats.handled).toBe(2);
    // a file in the queue that is not an admin message: counted as rejected, removed, the mailbox keeps answering
    // (one without an unexpired expires_at may be swept away by a janitor round first)
    const queue = files.adminDir('h:offline:1');
    const expires = new Date(Date.now() + 600_000).toISOString();
    fs.writeFileSync(
      path.join(queue, '000000000000000-000000-1.json'),
      JSON.stringify({ command: 5, expires_at: expires }),
    );
    await waitFor(() => rt.mailbox.stats.rejected === 1, 'the rejection', 30_000);
    // the claimed file is removed just after it is counted (the drain processes, then deletes)
    await waitFor(() => fs.readdirSync(queue).length === 0, 'the rejected file removed', 30_000);
    expect(fs.readdirSync(queue)).toEqual([]);
    const again = await canopy(['admin', 'h:offline:1', 'ping', '--timeout', '30000'], { USE_REDIS: 'false' });
    expect(again.stdout).toMatch(/^h:offline:1: ok /);
  });

  it('canopy admin falls back to the files when Redis is unreachable', async () => {
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const list = await canopy(['admin', 'list'], { REDIS_URL: dead });
    expect(list.stderr).toContain('Redis unreachable');
    expect(list.stdout).toContain('h:offline:1');
    const ping = await canopy(['admin', 'offline', 'ping', '--timeout', '30000'], { REDIS_URL: dead });
    expect(ping.stdout).toMatch(/^h:offline:1: ok /);
    const queued = await canopy(['admin', 'h:nobody:5', 'ping'], { REDIS_URL: dead });
    expect(queued.stdout).toBe('h:nobody:5: queued (file)\n');
    expect(fs.readdirSync(path.join(dataDir, 'fabric', 'admin', 'h%3Anobody%3A5'))).toHaveLength(1);
  });
});
