import { execFileSync } from '../../support/run-sync.js';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConfigError } from '../../../src/bus/errors.js';
import { hostAllowed, originAllowed } from '../../../src/services/api/access.js';
import { isLoopbackHost, resolveApiOptions } from '../../../src/services/api/options.js';
import { jsonDepth, parseClientMessage } from '../../../src/services/api/ws-messages.js';
import { tempDir } from '../../support/tmp.js';
import { bearer, capturingLogger, getJson, rawHttp, startApi, statusOf, VIEWER_TOKEN } from './helpers.js';

const OPERATOR = 'operator-token-for-access-0123456789';
type Ctx = Awaited<ReturnType<typeof startApi>>;

/** A WebSocket that records messages and how it closed. */
function wsClient(url: string, opts: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, opts);
  const messages: Array<Record<string, unknown>> = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const refused = new Promise<number>((resolve) =>
    ws.on('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    }),
  );
  ws.on('error', () => undefined);
  ws.on('message', (d) => messages.push(JSON.parse(String(d)) as Record<string, unknown>));
  const opened = new Promise<void>((resolve) => ws.on('open', () => resolve()));
  const waitFor = async (pred: (m: Record<string, unknown>) => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const m = messages.find(pred);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('no such message');
  };
  return { ws, messages, closed, refused, opened, waitFor };
}

describe('unit: Host, Origin and message guards', () => {
  it('allows IP literals, loopback names and configured names only', () => {
    expect(hostAllowed('127.0.0.1:8000', [])).toBe(true);
    expect(hostAllowed('[::1]:8000', [])).toBe(true);
    expect(hostAllowed('192.168.1.20', [])).toBe(true);
    expect(hostAllowed('localhost:8000', [])).toBe(true);
    expect(hostAllowed('evil.example:8000', [])).toBe(false);
    expect(hostAllowed('farm.example', ['farm.example'])).toBe(true);
    expect(hostAllowed(undefined, [])).toBe(false);
    expect(hostAllowed('a b', ['*'])).toBe(false);
  });

  it('allows no Origin, the same origin and configured origins', () => {
    expect(originAllowed(undefined, '127.0.0.1:8000', [])).toBe(true);
    expect(originAllowed('http://127.0.0.1:8000', '127.0.0.1:8000', [])).toBe(true);
    expect(originAllowed('http://evil.example', '127.0.0.1:8000', [])).toBe(false);
    expect(originAllowed('null', '127.0.0.1:8000', [])).toBe(false);
    expect(originAllowed('not a url', '127.0.0.1:8000', [])).toBe(false);
    expect(originAllowed('https://farm.example', '10.0.0.2', ['https://farm.example/'])).toBe(true);
  });

  it('derives open reads only on loopback and refuses to open them beyond it', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(resolveApiOptions({ host: '127.0.0.1' }, {}).readAccess).toBe('open');
    expect(resolveApiOptions({ host: '0.0.0.0' }, {}).readAccess).toBe('viewer');
    expect(resolveApiOptions({ host: '192.168.1.5' }, {}).readAccess).toBe('viewer');
    expect(() => resolveApiOptions({ host: '0.0.0.0', readAccess: 'open' }, {})).toThrow(ConfigError);
    expect(() => resolveApiOptions({}, { CANOPY_API_TLS_CERT: '/x.pem' })).toThrow(/must be set together/);
    expect(resolveApiOptions({}, { CANOPY_API_ALLOWED_HOSTS: 'a.example, b.example' }).allowedHosts).toEqual([
      'a.example',
      'b.example',
    ]);
    expect(resolveApiOptions({}, { CANOPY_API_EXPORT_MAX_ROWS: '10' }).exportMaxRows).toBe(10);
    expect(resolveApiOptions({}, { CANOPY_API_WS_MAX_CLIENTS: '1000' }).wsMaxClients).toBe(1000);
    expect(() => resolveApiOptions({}, { CANOPY_API_WS_MAX_CLIENTS: 'many' })).toThrow(
      /wsMaxClients must be a positive number, got NaN/,
    );
  });

  it('measures JSON depth without parsing and ignores brackets in strings', () => {
    expect(jsonDepth('{"a":[1,{"b":"[[[["}]}')).toBe(3);
    expect(jsonDepth('['.repeat(100_000), 32)).toBe(33);
    expect(parseClientMessage(Buffer.from('['.repeat(5000)), false)).toMatchObject({ ok: false, reason: 'too_deep' });
    expect(parseClientMessage(Buffer.from([1, 2]), true)).toMatchObject({ ok: false, reason: 'binary' });
    expect(parseClientMessage(Buffer.from('{"type":"auth","token":5}'), false)).toMatchObject({ ok: false });
  });
});

describe('reads need a viewer token beyond loopback', () => {
  let t: Ctx;
  let logLines: string[];
  beforeAll(async () => {
    const cap = capturingLogger();
    logLines = cap.lines;
    t = await startApi({
      readAccess: 'viewer',
      tokens: `viewer@test-viewer:${VIEWER_TOKEN},operator@alice:${OPERATOR}`,
      wsAuthTimeoutMs: 1000,
      wsMaxClients: 3,
      logger: cap.log,
    });
  });
  const wsUrl = () => `${t.api.url.replace('http', 'ws')}/ws`;

  it('binding 0.0.0.0 derives token-only reads', async () => {
    const { api } = await startApi({ host: '0.0.0.0' });
    expect(api.ctx.options.readAccess).toBe('viewer');
    const port = api.port;
    const res = await fetch(`http://127.0.0.1:${port}/api/sensors`);
    expect(res.status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/api/sensors`, { headers: bearer() })).status).toBe(200);
  });

  it('REST, /metrics, /docs and /health: 401 without a token, 200 with a viewer token; the dashboard files stay open', async () => {
    for (const url of ['/api/sensors', '/api/sensors/live', '/api/devices', '/metrics', '/docs', '/health']) {
      const none = await fetch(`${t.api.url}${url}`);
      expect(none.status, url).toBe(401);
      expect(((await none.json()) as { code: string }).code).toBe('API_UNAUTHORIZED');
      const bad = await fetch(`${t.api.url}${url}`, { headers: bearer('wrong-token-0123456789abcdef') });
      expect(bad.status, url).toBe(401);
      const ok = await fetch(`${t.api.url}${url}`, { headers: bearer() });
      expect([200, 503], url).toContain(ok.status); // /health may say the store is down (none configured)
    }
    expect((await fetch(`${t.api.url}/`)).status).toBe(200);
  });

  it('refuses a token in the URL and never logs it', async () => {
    const secret = 'url-secret-token-0123456789abcdef';
    for (const url of [
      `/api/sensors?token=${secret}`,
      `/ws?access_token=${secret}`,
      `/api/export?sensors=x&TOKEN=${secret}`,
    ]) {
      const r = await getJson(t.api, url);
      expect(r.status, url).toBe(400);
      expect(r.body.code).toBe('API_TOKEN_IN_URL');
    }
    expect(logLines.join('\n')).not.toContain(secret);
  });

  it('refuses Host names that are not allowed (DNS rebinding)', async () => {
    const ask = (host: string) =>
      rawHttp(
        t.api.port,
        `GET /api/sensors HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${VIEWER_TOKEN}\r\nConnection: close\r\n\r\n`,
      );
    expect(statusOf(await ask('attacker.example'))).toBe(403);
    expect(await ask('attacker.example')).toContain('API_HOST_NOT_ALLOWED');
    expect(statusOf(await ask(`localhost:${t.api.port}`))).toBe(200);
    expect(statusOf(await ask(`127.0.0.1:${t.api.port}`))).toBe(200);
  });

  it('refuses a foreign Origin on control requests and /ws; logs control requests by token name, never the token', async () => {
    const evil = await fetch(`${t.api.url}/api/devices/fan_1`, {
      method: 'POST',
      headers: { ...bearer(OPERATOR), origin: 'http://evil.example', 'content-type': 'application/json' },
      body: '{"mode":"auto"}',
    });
    expect(evil.status).toBe(403);
    expect(((await evil.json()) as { code: string }).code).toBe('API_ORIGIN_NOT_ALLOWED');
    const c = wsClient(wsUrl(), { origin: 'http://evil.example', headers: bearer() });
    expect(await c.refused).toBe(403);
    // same origin: passes the gate (the device is unknown here: 404), and is logged
    const own = await fetch(`${t.api.url}/api/devices/fan_1`, {
      method: 'POST',
      headers: { ...bearer(OPERATOR), origin: t.api.url, 'content-type': 'application/json' },
      body: '{"mode":"auto"}',
    });
    expect(own.status).toBe(404);
    const entry = logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.access === 'control' && l.status === 404);
    expect(entry).toMatchObject({ who: 'alice', role: 'operator', method: 'POST', route: '/api/devices/:name' });
    expect(logLines.join('\n')).not.toContain(OPERATOR);
  });

  it('/ws: token in the first message, a cookie or a header; nothing before; wrong or missing token closes', async () => {
    const a = wsClient(wsUrl());
    await a.opened;
    await new Promise((r) => setTimeout(r, 200));
    expect(a.messages).toEqual([]); // no hello, no data before the token
    a.ws.send(JSON.stringify({ type: 'auth', token: VIEWER_TOKEN }));
    expect(await a.waitFor((m) => m.type === 'auth')).toMatchObject({ ok: true, role: 'viewer' });
    await a.waitFor((m) => m.type === 'hello');
    a.ws.terminate();

    const b = wsClient(wsUrl(), { headers: { cookie: `other=1; canopy_token=${VIEWER_TOKEN}` } });
    await b.waitFor((m) => m.type === 'hello');
    b.ws.terminate();

    const wrong = wsClient(wsUrl());
    await wrong.opened;
    wrong.ws.send(JSON.stringify({ type: 'auth', token: 'wrong-token-0123456789abcdef' }));
    expect((await wrong.closed).code).toBe(1008);

    const silent = wsClient(wsUrl());
    expect((await silent.closed).code).toBe(1008); // wsAuthTimeoutMs

    const other = wsClient(wsUrl());
    await other.opened;
    other.ws.send(JSON.stringify({ type: 'subscribe' }));
    expect((await other.closed).code).toBe(1008);

    const badCookie = wsClient(wsUrl(), { headers: { cookie: 'canopy_token=wrong-token-0123456789abcdef' } });
    expect(await badCookie.refused).toBe(401);
    const rejected = t.api.ctx.hub.stats.rejected;
    expect(rejected.auth_failed).toBeGreaterThanOrEqual(1);
    expect(rejected.auth_timeout).toBeGreaterThanOrEqual(1);
    expect(rejected.unauthenticated).toBeGreaterThanOrEqual(1);
  });

  it('/ws: bad messages are answered and counted, too many close the client; the client count is capped', async () => {
    const c = wsClient(wsUrl(), { headers: bearer() });
    await c.waitFor((m) => m.type === 'hello');
    c.ws.send(Buffer.from([0, 1, 2]), { binary: true });
    c.ws.send('['.repeat(10_000));
    c.ws.send('{nope');
    c.ws.send(JSON.stringify({ type: 'subscribe', location: 5 }));
    await c.waitFor((m) => m.type === 'error' && /deeper than 32/.test(String(m.message)));
    await c.waitFor((m) => m.type === 'error' && /binary/.test(String(m.message)));
    for (let i = 0; i < 30; i++) c.ws.send('x');
    expect((await c.closed).code).toBe(1008);
    expect(t.api.ctx.hub.stats.rejected.too_many_bad).toBeGreaterThanOrEqual(1);

    const held = [];
    for (let i = 0; i < 3; i++) {
      const h = wsClient(wsUrl(), { headers: bearer() });
      await h.waitFor((m) => m.type === 'hello');
      held.push(h);
    }
    const fourth = wsClient(wsUrl(), { headers: bearer() });
    expect(await fourth.refused).toBe(503);
    expect((await t.api.ctx.metrics.refusals()).API_WS_FULL).toBeGreaterThanOrEqual(1);
    for (const h of held) h.ws.terminate();
  });
});

describe('TLS', () => {
  it('serves HTTPS and WSS with CANOPY_API_TLS_CERT/KEY (self-signed certificate from openssl)', async () => {
    const dir = tempDir();
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const { api } = await startApi({ tlsCert: cert, tlsKey: key });
    expect(api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = fs.readFileSync(cert);
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(`${api.url}/api/sensors`, { ca }, (res) => {
          let s = '';
          res.on('data', (d) => (s += d));
          res.on('end', () => resolve(s));
        })
        .on('error', reject);
    });
    expect((JSON.parse(body) as { sensors: unknown[] }).sensors.length).toBeGreaterThan(0);
    const c = wsClient(`${api.url.replace('https', 'wss')}/ws`, { ca });
    await c.waitFor((m) => m.type === 'hello');
    c.ws.terminate();
    // plain HTTP on the TLS port gets no API answer
    expect(statusOf(await rawHttp(api.port, 'GET /api/sensors HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 5000))).not.toBe(
      200,
    );
  });
});
