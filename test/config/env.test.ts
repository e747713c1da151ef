import { spawnSync } from '../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { applySecretFiles, CredentialError, writeCredential } from '../../src/config/env.js';
import { startRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const CLI = path.resolve('dist/src/cli/main.js');

function credDir(files: Record<string, string>): string {
  const dir = tempDir('canopy-creds-');
  for (const [name, value] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), value, { mode: 0o400 });
  return dir;
}

describe('secrets from systemd credentials and NAME_FILE (src/config/env.ts)', () => {
  it('a credential wins over NAME_FILE and the environment; both forms of credential names are read', () => {
    const dir = credDir({
      REDIS_URL: 'redis://canopy-worker:pw1@127.0.0.1:6379\n',
      canopy_DATABASE_URL: 'postgres://u:pw2@h/db',
    });
    const other = path.join(tempDir(), 'mqtt');
    fs.writeFileSync(other, 'mqtt://bridge:pw3@broker:1883\n');
    const env: NodeJS.ProcessEnv = {
      CREDENTIALS_DIRECTORY: dir,
      REDIS_URL: 'redis://127.0.0.1:6379', // the shared template's value: the credential replaces it
      MQTT_URL_FILE: other,
      LOG_LEVEL: 'info',
    };
    const from = applySecretFiles(env);
    expect(env.REDIS_URL).toBe('redis://canopy-worker:pw1@127.0.0.1:6379');
    expect(env.DATABASE_URL).toBe('postgres://u:pw2@h/db');
    expect(env.MQTT_URL).toBe('mqtt://bridge:pw3@broker:1883');
    expect(from).toEqual({ REDIS_URL: 'credential', DATABASE_URL: 'credential', MQTT_URL: 'file' });
  });

  it("a token credential becomes the path of the service's own tokens file", () => {
    const dir = credDir({ canopy_CANOPY_API_TOKENS: 'operator:0123456789abcdef\n' });
    const env: NodeJS.ProcessEnv = { CREDENTIALS_DIRECTORY: dir };
    applySecretFiles(env);
    expect(env.CANOPY_API_TOKENS_FILE).toBe(path.join(dir, 'canopy_CANOPY_API_TOKENS'));
    expect(env.CANOPY_API_TOKENS).toBeUndefined();
    const tls = credDir({ canopy_CANOPY_API_TLS_KEY: '-----BEGIN PRIVATE KEY-----\n' });
    const env2: NodeJS.ProcessEnv = { CREDENTIALS_DIRECTORY: tls, CANOPY_API_TLS_KEY: '/etc/ssl/private/old.key' };
    applySecretFiles(env2);
    expect(env2.CANOPY_API_TLS_KEY).toBe(path.join(tls, 'canopy_CANOPY_API_TLS_KEY'));
  });

  it('NAME and NAME_FILE together, or an unreadable file, are refused with a typed error', () => {
    const f = path.join(tempDir(), 'pw');
    fs.writeFileSync(f, 'x');
    const both = () => applySecretFiles({ PGPASSWORD: 'a', PGPASSWORD_FILE: f });
    expect(both).toThrow(CredentialError);
    // what a child of `canopy up` inherits: both, with the value the parent read
    const child: NodeJS.ProcessEnv = { PGPASSWORD: 'x', PGPASSWORD_FILE: f };
    expect(applySecretFiles(child)).toEqual({ PGPASSWORD: 'file' });
    expect(() => both()).toThrow(expect.objectContaining({ code: 'CREDENTIAL_CONFLICT' }));
    const missing = () => applySecretFiles({ ALERTS_SMTP_URL_FILE: path.join(tempDir(), 'nope') });
    expect(missing).toThrow(expect.objectContaining({ code: 'CREDENTIAL_UNREADABLE', name: 'CredentialError' }));
  });

  it('the canopy CLI logs in with the REDIS_URL of its credentials directory, not the one in its environment', async () => {
    const redis = await startRedis({ extraConfig: ['requirepass cred-only-0123456789'] });
    const dir = credDir({ canopy_REDIS_URL: `redis://:cred-only-0123456789@127.0.0.1:${redis.port}\n` });
    const sub = createClient({ url: `redis://:cred-only-0123456789@127.0.0.1:${redis.port}` });
    await sub.connect();
    const got: Buffer[] = [];
    await sub.subscribe('user:jamie:predictions', (m) => got.push(m), true);
    const run = (env: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, [CLI, 'publish', 'jamie', 'predictions', '{"data":{"x":1}}', '--codec', 'json'], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, REDIS_URL: `redis://127.0.0.1:${redis.port}`, ...env },
        timeout: 60_000,
      });
    const without = run({});
    expect(without.status).not.toBe(0); // NOAUTH: the environment's URL has no password
    const withCred = run({ CREDENTIALS_DIRECTORY: dir });
    expect(withCred.stderr).not.toMatch(/cred-only/); // the secret is never printed
    expect(withCred.status).toBe(0);
    await expect.poll(() => got.length, { timeout: 30_000 }).toBe(1);
    expect(JSON.parse(String(got[0]))).toMatchObject({ type: 'prediction', data: { x: 1 } });
    await sub.quit();
  });

  it("canopy acl --credentials-dir writes each service's REDIS_URL credential (0600 in 0700 directories)", () => {
    const dir = tempDir('canopy-acl-');
    const w = spawnSync(
      process.execPath,
      [
        CLI,
        'acl',
        '--format',
        'file',
        '--out',
        path.join(dir, 'users.acl'),
        '--credentials',
        path.join(dir, 'creds'),
        '--credentials-dir',
        path.join(dir, 'credentials'),
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH, REDIS_URL: 'redis://127.0.0.1:6390' } },
    );
    expect(w.status, w.stderr).toBe(0);
    for (const s of ['worker', 'api', 'gateway', 'cli']) {
      const f = path.join(dir, 'credentials', s, 'REDIS_URL');
      expect(fs.readFileSync(f, 'utf8'), s).toMatch(new RegExp(`^redis://canopy-${s}:[^@]+@127\\.0\\.0\\.1:6390\\n$`));
      expect(fs.statSync(f).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.dirname(f)).mode & 0o777).toBe(0o700);
    }
    expect(w.stdout + w.stderr).not.toMatch(/redis:\/\/canopy-worker:/); // passwords are not printed
    // writing again replaces the file atomically
    writeCredential(path.join(dir, 'credentials', 'worker'), 'REDIS_URL', 'redis://x');
    expect(fs.readFileSync(path.join(dir, 'credentials', 'worker', 'REDIS_URL'), 'utf8')).toBe('redis://x\n');
  });
});
