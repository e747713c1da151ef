import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { sendAdminMessage } from '../../../src/bus/mailbox.js';
import { tempDir } from '../../support/tmp.js';
import { getJson, startApi } from './helpers.js';

const run = promisify(execFile);
const INSTANCE = 'testhost:api:4343';
const ALICE = 'alice-viewer-token-0123456789';
const BOB = 'bob-viewer-token-abcdefghijkl';

describe('canopy admin api reload-config (the tokens file) on a real Redis', () => {
  it('a new tokens file applies at once; a broken one is refused with the reason and the old tokens stay', async () => {
    const file = path.join(tempDir(), 'tokens');
    fs.writeFileSync(file, `viewer@alice:${ALICE}\n`, { mode: 0o600 });
    const { redis, api } = await startApi({
      tokens: undefined,
      tokensFile: file,
      readAccess: 'viewer',
      runtime: { instance: INSTANCE },
    });
    const admin = await Connection.connect({ url: redis.url });
    const reload = async () =>
      (await sendAdminMessage(admin, INSTANCE, 'reload-config', {}, { replyTimeoutMs: 10_000 })).reply!;
    try {
      expect((await getJson(api, '/api/rooms', ALICE)).status).toBe(200);
      expect((await getJson(api, '/api/rooms', BOB)).status).toBe(401);

      // alice leaves, bob joins
      fs.writeFileSync(file, `viewer@bob:${BOB}\n`, { mode: 0o600 });
      expect(await reload()).toMatchObject({ ok: true, result: { tokens: 1 } });
      expect((await getJson(api, '/api/rooms', BOB)).status).toBe(200);
      expect((await getJson(api, '/api/rooms', ALICE)).status).toBe(401);

      // a malformed entry: refused, bob keeps his access
      fs.writeFileSync(file, `viewer@bob:${BOB}\nsuperuser:${ALICE}\n`, { mode: 0o600 });
      const bad = await reload();
      expect(bad.ok).toBe(false);
      expect(bad.error).toContain('entry 2 must be role:token');
      expect(bad.error).not.toContain(ALICE); // the reason never quotes a token
      expect((await getJson(api, '/api/rooms', BOB)).status).toBe(200);

      // a file others may read: refused too
      fs.writeFileSync(file, `viewer@alice:${ALICE}\n`);
      fs.chmodSync(file, 0o644);
      const loose = await reload();
      expect(loose.ok).toBe(false);
      expect(loose.error).toContain('must be 0600 or tighter');
      expect((await getJson(api, '/api/rooms', ALICE)).status).toBe(401);

      // through the CLI, by service name; the heartbeat names the instance
      fs.chmodSync(file, 0o600);
      const out = await run(
        process.execPath,
        ['dist/src/cli/main.js', 'admin', '--timeout', '20000', 'api', 'reload-config'],
        {
          env: { ...process.env, REDIS_URL: redis.url },
          timeout: 60_000,
        },
      );
      expect(out.stdout).toContain(`${INSTANCE}: ok {"tokens":1}`);
      expect((await getJson(api, '/api/rooms', ALICE)).status).toBe(200);
    } finally {
      await admin.close();
    }
  }, 120_000);
});
