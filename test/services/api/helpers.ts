import net from 'node:net';
import { pino, type Logger } from 'pino';
import { createClient, type RedisClientType } from 'redis';
import WebSocket from 'ws';
import { start, type ApiHandle, type ApiStartConfig } from '../../../src/services/api/index.js';
import { register } from '../../support/cleanup.js';
import { startRedis, type TestRedis } from '../../support/redis.js';

export const silent = pino({ level: 'silent' });

/** A viewer token every test API knows (export always needs one). */
export const VIEWER_TOKEN = 'viewer-token-for-tests-0123456789';
export const bearer = (token = VIEWER_TOKEN) => ({ authorization: `Bearer ${token}` });

/** A real redis-server and the API on a free port, stopped when the file ends. */
export async function startApi(
  config: ApiStartConfig = {},
  redis?: TestRedis,
): Promise<{ redis: TestRedis; api: ApiHandle; client: RedisClientType }> {
  const r = redis ?? (await startRedis());
  const api = await start({
    port: 0,
    redisUrl: r.url,
    logger: silent,
    tokens: `viewer@test-viewer:${VIEWER_TOKEN}`,
    ...config,
  });
  const client = createClient({ url: r.url });
  client.on('error', () => undefined);
  await client.connect();
  register({
    stop: async () => {
      client.destroy();
      await api.stop();
    },
    killSync: () => undefined,
  });
  return { redis: r, api, client };
}

export async function getJson(
  api: ApiHandle,
  url: string,
  token: string | undefined = VIEWER_TOKEN,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${api.url}${url}`, { headers: token ? bearer(token) : {} });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A WebSocket client that records every message. */
export class WsProbe {
  readonly messages: Array<Record<string, unknown>> = [];
  readonly ws: WebSocket;
  #waiters: Array<() => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (d) => {
      this.messages.push(JSON.parse(String(d)) as Record<string, unknown>);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async open(url: string): Promise<WsProbe> {
    const ws = new WebSocket(url);
    const probe = new WsProbe(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await probe.waitFor((m) => m.type === 'hello');
    return probe;
  }

  /** Resolves with the first recorded message matching `pred` (waits for it). */
  async waitFor(pred: (m: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.messages.find(pred);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`no matching WebSocket message within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

export function sensorUpdate(location: string, cluster: string, data: Record<string, number>, ts = new Date()): string {
  return JSON.stringify({ location, cluster, sensor_data: data, timestamp: ts.toISOString() });
}

/** Publishes like the worker does: broad, location and location:cluster channels. */
export async function publishSensor(
  client: RedisClientType,
  location: string,
  cluster: string,
  data: Record<string, number>,
): Promise<void> {
  const msg = sensorUpdate(location, cluster, data);
  await Promise.all([
    client.publish('sensor:update', msg),
    client.publish(`sensor:update:${location}`, msg),
    client.publish(`sensor:update:${location}:${cluster}`, msg),
  ]);
}

/** Sends raw bytes on a new TCP connection and resolves with everything the server answered before closing (or `waitMs`). */
export function rawHttp(port: number, data: string | Buffer, waitMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, waitMs);
    sock.on('data', (d) => chunks.push(d));
    sock.on('close', done);
    sock.on('error', done);
    sock.write(data);
  });
}

/**
 * Sends raw bytes and resolves with the status of the first answer as soon as its head is in
 * (0 when the server closed, or sent nothing in `waitMs`, without one). Unlike {@link rawHttp} it
 * does not wait for a kept-alive socket to close.
 */
export function rawStatus(port: number, data: string | Buffer, waitMs = 10_000): Promise<number> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(statusOf(got));
    };
    const timer = setTimeout(done, waitMs);
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) done();
    });
    sock.on('close', done);
    sock.on('error', done);
    sock.write(data);
  });
}

/** Status code of a raw HTTP answer (0 when there was none). */
export const statusOf = (answer: string): number => Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);

/** A pino logger that keeps every line (to assert on the access log and on what is never logged). */
export function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: pino({ level: 'info' }, { write: (s: string) => void lines.push(s) }), lines };
}
