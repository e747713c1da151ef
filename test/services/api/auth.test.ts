import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/bus/errors.js';
import { requireRole, TokenAuth } from '../../../src/services/api/auth.js';
import { tempDir } from '../../support/tmp.js';
import { startApi } from './helpers.js';

const ADMIN = 'admin-token-0123456789abcdef';
const OPERATOR = 'operator-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';

describe('TokenAuth', () => {
  it('parses role:token pairs and maps a token to its role', () => {
    const a = TokenAuth.parse(`admin:${ADMIN}, operator:${OPERATOR}\nviewer:${VIEWER}`);
    expect(a.size).toBe(3);
    expect(a.roleOf(ADMIN)).toBe('admin');
    expect(a.roleOf(OPERATOR)).toBe('operator');
    expect(a.roleOf(VIEWER)).toBe('viewer');
    expect(a.roleOf('wrong-token-0123456789abcdef')).toBeUndefined();
    expect(a.roleOf('')).toBeUndefined();
  });

  it('refuses malformed entries without quoting the token', () => {
    const secret = 'super-secret-value-1234567890';
    let err: unknown;
    try {
      TokenAuth.parse(`root:${secret}`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain(secret);
    expect(() => TokenAuth.parse('admin:short')).toThrow(/shorter than 16/);
  });

  it('reads a 0600 tokens file and refuses one readable by others', () => {
    const dir = tempDir();
    const file = path.join(dir, 'tokens');
    fs.writeFileSync(file, `# tokens\nadmin:${ADMIN}\n`, { mode: 0o600 });
    expect(TokenAuth.fromFile(file).roleOf(ADMIN)).toBe('admin');
    fs.chmodSync(file, 0o640);
    expect(() => TokenAuth.fromFile(file)).toThrow(/mode 640; it must be 0600/);
    fs.chmodSync(file, 0o400);
    expect(TokenAuth.load({ tokensFile: file, tokens: `viewer:${VIEWER}` }).size).toBe(2);
  });
});

describe('requireRole on a control route', () => {
  it('401 without or with a bad token, 403 with a weaker role, 200 with enough', async () => {
    const { api } = await startApi({
      tokens: `admin:${ADMIN},operator:${OPERATOR},viewer:${VIEWER}`,
      routes: [
        async (app, ctx) => {
          app.post('/api/test-control', { preHandler: requireRole(ctx.auth, 'operator') }, async (req) => ({
            role: req.role,
          }));
        },
      ],
    });
    const call = (token?: string) =>
      fetch(`${api.url}/api/test-control`, {
        method: 'POST',
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    const none = await call();
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const bad = await call('not-a-token-at-all-xxxxxxxx');
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { message: string }).message).toMatch(/^the token is not valid: /);
    const weak = await call(VIEWER);
    expect(weak.status).toBe(403);
    expect(((await weak.json()) as { message: string }).message).toMatch(
      /needs the operator role; the token has viewer/,
    );
    expect(await (await call(OPERATOR)).json()).toEqual({ role: 'operator' });
    expect(await (await call(ADMIN)).json()).toEqual({ role: 'admin' });
  });

  it('with no tokens configured, control routes refuse everyone and say why', async () => {
    const { api } = await startApi({
      tokens: undefined,
      tokensFile: undefined,
      routes: [
        async (app, ctx) => {
          app.post('/api/test-control', { preHandler: requireRole(ctx.auth, 'viewer') }, async () => ({ ok: true }));
        },
      ],
    });
    const res = await fetch(`${api.url}/api/test-control`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toMatch(/no API tokens are configured/);
  });
});
