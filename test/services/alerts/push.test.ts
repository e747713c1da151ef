import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/bus/errors.js';
import { textOf } from '../../../src/services/alerts/channels.js';
import type { AlertTransition } from '../../../src/cea/alerts/engine.js';
import { Notifier, type NotifierOptions } from '../../../src/services/alerts/notify.js';
import type { Logger } from '../../../src/util/log.js';
import { startStub } from './stub-http.js';

const until = async (cond: () => boolean, what: string) => {
  const deadline = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** A logger whose every line is kept, to check that no secret is ever written. */
function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

const at = Date.parse('2026-03-01T12:00:00.000Z');
function fired(subject: string, severity: string, message: string): AlertTransition {
  return {
    type: 'fired',
    at,
    alert: {
      key: `r:${subject}`,
      rule: 'r',
      subject,
      kind: 'threshold',
      severity,
      message,
      started_at: new Date(at).toISOString(),
    },
  };
}
const hot = fired('dry_bulb_f', 'critical', 'dry_bulb_f is 33.5 °C, above 32 for 300 s');

function notifier(opts: Partial<NotifierOptions>, log: Logger = capturingLogger().log): Notifier {
  return new Notifier({ groupWindowMs: 50, retryMs: 200, ...opts }, log);
}

describe('push channels', () => {
  it('ntfy: POST to the topic URL with Title, Priority, Tags and the bearer token; body is the text', async () => {
    const stub = await startStub();
    const n = notifier({ ntfy: { url: `${stub.base}/grow-room-7f3a`, token: 'tk_ntfy_secret' } });
    expect(n.channels).toEqual(['ntfy']);
    n.push([hot]);
    await until(() => stub.requests.length === 1, 'the ntfy push');
    const r = stub.requests[0]!;
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/grow-room-7f3a');
    expect(r.headers.authorization).toBe('Bearer tk_ntfy_secret');
    expect(r.headers.priority).toBe('5');
    expect(r.headers.tags).toBe('rotating_light,critical');
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    // a non-ASCII title travels as an RFC 2047 encoded word, which ntfy decodes
    const m = /^=\?UTF-8\?B\?(.+)\?=$/.exec(String(r.headers.title));
    expect(Buffer.from(m?.[1] ?? '', 'base64').toString('utf8')).toBe(
      '[Canopy] FIRING critical: dry_bulb_f is 33.5 °C, above 32 for 300 s',
    );
    expect(r.body).toBe(textOf([hot], 0));
    // a resolved notice: default priority, a check mark
    n.push([{ ...hot, type: 'resolved' }]);
    await until(() => stub.requests.length === 2, 'the resolved push');
    expect(stub.requests[1]!.headers.priority).toBe('3');
    expect(stub.requests[1]!.headers.tags).toBe('white_check_mark,critical');
    // a storm of 50 long alerts stays one message of at most 4096 bytes
    const storm = Array.from({ length: 50 }, (_, i) => fired(`s${i}`, 'warning', `s${i} ${'°'.repeat(60)}`));
    n.push(storm);
    await until(() => stub.requests.length === 3, 'the storm push');
    expect(Buffer.byteLength(stub.requests[2]!.body, 'utf8')).toBeLessThanOrEqual(4096);
    expect(stub.requests[2]!.body.endsWith('…')).toBe(true);
    await n.close();
  });

  it('telegram: POST {base}/bot<token>/sendMessage with exactly {chat_id, text}, one request per chat', async () => {
    const stub = await startStub();
    const n = notifier({
      telegram: { token: '123456:ABC-def_secret', chatIds: ['-1001', '42'], baseUrl: `${stub.base}/` },
    });
    expect(n.channels).toEqual(['telegram:1', 'telegram:2']);
    const warm = fired('rh_f', 'warning', 'rh_f is 88, above 85 for 600 s (mould risk)');
    n.push([hot, warm]);
    await until(() => stub.requests.length === 2, 'both chats');
    const bodies = stub.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    for (const r of stub.requests) {
      expect(r.method).toBe('POST');
      expect(r.url).toBe('/bot123456:ABC-def_secret/sendMessage');
      expect(r.headers['content-type']).toBe('application/json');
    }
    expect(bodies.map((b) => Object.keys(b).sort())).toEqual([
      ['chat_id', 'text'],
      ['chat_id', 'text'],
    ]);
    expect(bodies.map((b) => b.chat_id).sort()).toEqual(['-1001', '42']);
    expect(bodies[0]!.text).toBe(`[Canopy] 2 alerts: 2 firing\n\n${textOf([hot, warm], 0)}`);
    await n.close();
  });

  it('sms: the gateway template gets {to} and {text} encoded for URL, form body or JSON, with the auth header', async () => {
    const stub = await startStub();
    const form = notifier({
      sms: {
        url: `${stub.base}/api/send?sender=canopy`,
        to: ['+4915112345678'],
        auth: 'Basic dXNlcjpzbXNzZWNyZXQ=',
      },
    });
    form.push([hot]);
    await until(() => stub.requests.length === 1, 'the form SMS');
    const f = stub.requests[0]!;
    expect(f.method).toBe('POST');
    expect(f.url).toBe('/api/send?sender=canopy');
    expect(f.headers.authorization).toBe('Basic dXNlcjpzbXNzZWNyZXQ=');
    expect(f.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const params = new URLSearchParams(f.body);
    expect(params.get('to')).toBe('+4915112345678');
    expect(params.get('text')).toBe('Canopy FIRING critical: dry_bulb_f is 33.5 °C, above 32 for 300 s');
    await form.close();

    const json = notifier({
      sms: {
        url: `${stub.base}/v1/messages`,
        to: ['+491'],
        body: '{"recipient":"{to}","message":"{text}"}',
        contentType: 'application/json',
        auth: 'key-123',
        authHeader: 'X-API-Key',
        maxChars: 40,
      },
    });
    json.push([fired('co2_f', 'critical', 'co2_f is 5200 "ppm", above 5000')]);
    await until(() => stub.requests.length === 2, 'the JSON SMS');
    const j = stub.requests[1]!;
    expect(j.headers['x-api-key']).toBe('key-123');
    expect(j.headers.authorization).toBeUndefined();
    const body = JSON.parse(j.body) as { recipient: string; message: string };
    expect(body.recipient).toBe('+491');
    expect(body.message).toBe('Canopy FIRING critical: co2_f is 5200 "…');
    expect([...body.message]).toHaveLength(40);
    await json.close();

    const get = notifier({ sms: { url: `${stub.base}/send/{to}?msg={text}`, to: ['+49 151'], method: 'GET' } });
    get.push([fired('t', 'info', 'a & b')]);
    await until(() => stub.requests.length === 3, 'the GET SMS');
    const g = stub.requests[2]!;
    expect(g.method).toBe('GET');
    expect(g.url).toBe(`/send/%2B49%20151?msg=${encodeURIComponent('Canopy FIRING info: a & b')}`);
    expect(g.body).toBe('');
    await get.close();
  });

  it('retries with growing backoff on 5xx and delivers once; no retry on 4xx, announced in the next one', async () => {
    const stub = await startStub();
    const { log, lines } = capturingLogger();
    const n = notifier({ telegram: { token: '99:retry_secret_token', chatIds: ['7'], baseUrl: stub.base } }, log);
    stub.answer(503, 502);
    n.push([hot]);
    await until(() => n.stats.sent.telegram === 1, 'the delivery after two failures');
    expect(stub.requests).toHaveLength(3);
    expect(new Set(stub.requests.map((r) => r.body)).size).toBe(1);
    expect(n.stats.failed.telegram).toBe(2);
    const [a, b, c] = stub.requests.map((r) => r.at) as [number, number, number];
    // retryMs 200, then doubled (lower bounds only; a loaded machine is only ever later)
    expect(b - a).toBeGreaterThanOrEqual(190);
    expect(c - b).toBeGreaterThanOrEqual(390);

    // 4xx: refused, counted, not retried; the next notification says one was lost
    stub.answer(400);
    const cold = fired('dry_bulb_v', 'warning', 'dry_bulb_v is 14, below 15');
    n.push([cold]);
    await until(() => n.stats.rejected.telegram === 1, 'the refusal');
    n.push([hot]);
    await until(() => n.stats.sent.telegram === 2, 'the next notification');
    expect(stub.requests).toHaveLength(5);
    const last = JSON.parse(stub.requests[4]!.body) as { text: string };
    expect(last.text).toContain('1 earlier notifications could not be delivered');
    expect(last.text).not.toContain('dry_bulb_v');
    expect(n.stats.failed.telegram).toBe(2);
    expect(n.pending).toEqual({ telegram: 0 });
    // the token is in every request's path, and in no log line
    expect(lines.some((l) => l.includes('notification refused'))).toBe(true);
    expect(lines.some((l) => l.includes('will retry'))).toBe(true);
    expect(lines.join('').includes('retry_secret_token')).toBe(false);
    await n.close();
  });

  it('a failing channel is counted and blocks neither the others nor later alerts; secrets stay out of the logs', async () => {
    const good = await startStub();
    const bad = await startStub();
    const dead = await startStub();
    await dead.close(); // connection refused from now on
    const { log, lines } = capturingLogger();
    bad.answer(...Array<number>(100).fill(500));
    const n = notifier(
      {
        retryMs: 60_000,
        ntfy: { url: `${bad.base}/topic-bad`, token: 'ntfy_secret_xyz' },
        telegram: { token: '1:tg_secret_abc', chatIds: ['5'], baseUrl: good.base },
        sms: { url: `${dead.base}/sms`, to: ['+1'], auth: 'Bearer sms_secret_def' },
      },
      log,
    );
    n.push([hot]);
    await until(() => n.stats.sent.telegram === 1, 'telegram despite the others');
    await until(() => n.stats.failed.ntfy === 1 && n.stats.failed.sms === 1, 'both failures counted');
    n.push([{ ...hot, type: 'resolved' }]);
    await until(() => n.stats.sent.telegram === 2, 'the second telegram');
    expect(good.requests).toHaveLength(2);
    expect(bad.requests).toHaveLength(1);
    // nothing accepted is lost: both transitions wait for the retry
    expect(n.pending).toEqual({ ntfy: 2, telegram: 0, sms: 2 });
    const all = lines.join('');
    for (const secret of ['ntfy_secret_xyz', 'topic-bad', 'tg_secret_abc', 'sms_secret_def'])
      expect(all.includes(secret)).toBe(false);
    expect(all).toContain('NOTIFY_UNREACHABLE');
    expect(all).toContain('NOTIFY_FAILED');
    await n.close();
  });

  it('bad channel settings are refused at once with a ConfigError', () => {
    const mk = (o: Partial<NotifierOptions>) => () => notifier(o);
    expect(mk({ ntfy: { url: 'ftp://x/topic' } })).toThrow(ConfigError);
    expect(mk({ ntfy: { url: 'http://x/t', priorities: { critical: 9 } } })).toThrow(ConfigError);
    expect(mk({ telegram: { token: 'a b', chatIds: ['1'] } })).toThrow(ConfigError);
    expect(mk({ telegram: { token: '1:a', chatIds: [] } })).toThrow(ConfigError);
    expect(mk({ sms: { url: 'http://gw/send', to: [] } })).toThrow(ConfigError);
    expect(mk({ sms: { url: 'http://gw/send', to: ['1'], method: 'DELETE' as 'GET' } })).toThrow(ConfigError);
    expect(mk({ retryMs: -1 })).toThrow(ConfigError);
  });
});
