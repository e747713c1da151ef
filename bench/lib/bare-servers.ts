/**
 * The bare servers Canopy's API and gateway are measured against, each in
 * its own process as Canopy's are (forked by bench/api.ts and
 * bench/gateway.ts; `ready` with the port over IPC):
 *  - `live <redisUrl> <port> <names-json>`: a bare fastify route
 *    `/api/sensors/live` doing one MGET of the same `sensor:<name>` and
 *    `:ts` keys and JSON-serialising the same fields, per request;
 *  - `ws <redisUrl> <port>`: a bare `ws` server on `/ws` subscribed to
 *    `sensor:update`, sending every client `{"type":"sensor","data":…}` —
 *    the bytes Canopy's hub sends — and a hello on connect;
 *  - `gateway <redisUrl> <port>`: a bare `ws` server on `/relay/<user>` that
 *    welcomes, decodes every message with the same codec (msgpack) and
 *    PUBLISHes it to `user:<user>:raw`, pipelined (commands of one tick in
 *    one write). No auth checks, limits, validation or back channels.
 */
import Fastify from 'fastify';
import { createClient } from 'redis';
import { WebSocketServer, type WebSocket } from 'ws';
import { UserCodec } from '../../src/contracts/user-channels.js';

type Mode = 'live' | 'ws' | 'gateway';

async function live(redisUrl: string, port: number, names: string[]): Promise<() => Promise<void>> {
  const redis = createClient({ url: redisUrl });
  await redis.connect();
  const keys = names.flatMap((n) => [`sensor:${n}`, `sensor:${n}:ts`]);
  const app = Fastify({ logger: false });
  app.get('/api/sensors/live', async (_req, reply) => {
    const raw = await redis.mGet(keys);
    const now = Date.now();
    const sensors = names.map((name, i) => {
      const v = raw[2 * i];
      const n = v === null || v === undefined || v === '' ? NaN : Number(v);
      const ts = raw[2 * i + 1] ? Number(raw[2 * i + 1]) : null;
      const ok = Number.isFinite(n);
      const ageMs = ok && ts !== null ? Math.max(0, now - ts) : null;
      return { name, value: ok ? n : null, ts: ok ? ts : null, ageMs, stale: !ok || ageMs === null || ageMs > 10_000 };
    });
    return reply.type('application/json; charset=utf-8').send(JSON.stringify({ sensors }));
  });
  await app.listen({ port, host: '127.0.0.1' });
  return async () => {
    await app.close();
    await redis.close();
  };
}

async function ws(redisUrl: string, port: number): Promise<() => Promise<void>> {
  const sub = createClient({ url: redisUrl });
  await sub.connect();
  const wss = new WebSocketServer({ port, host: '127.0.0.1', path: '/ws', perMessageDeflate: false });
  wss.on('connection', (c) => c.send(JSON.stringify({ type: 'hello' })));
  await sub.subscribe('sensor:update', (message) => {
    const frame = Buffer.from(`{"type":"sensor","data":${message}}`);
    for (const c of wss.clients) c.send(frame);
  });
  await new Promise<void>((r) => (wss.address() ? r() : wss.once('listening', () => r())));
  return async () => {
    await new Promise<void>((r) => wss.close(() => r()));
    for (const c of wss.clients) c.terminate();
    await sub.close();
  };
}

async function gateway(redisUrl: string, port: number): Promise<() => Promise<void>> {
  const pub = createClient({ url: redisUrl });
  await pub.connect();
  const codec = new UserCodec();
  let queue: [string, Buffer][] = [];
  const flush = () => {
    const batch = queue;
    queue = [];
    const m = pub.multi();
    for (const [ch, payload] of batch) m.publish(ch, payload);
    m.execAsPipeline().catch(() => undefined);
  };
  const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false, maxPayload: 1 << 20 });
  wss.on('connection', (c: WebSocket, req) => {
    const user = decodeURIComponent(/^\/relay\/([^/?]+)/.exec(req.url ?? '')?.[1] ?? '');
    const channel = `user:${user}:raw`;
    const send = (v: unknown) => c.send(codec.encode(v, 'msgpack'));
    send({
      type: 'welcome',
      user,
      connection: 'bare',
      replayed: 0,
      limits: { maxMessageBytes: 1 << 20, ratePerSecond: 1e9, rateBurst: 1e9 },
    });
    c.on('message', (data: Buffer) => {
      try {
        const { value } = codec.decode(data);
        if ((value as { type?: unknown }).type !== 'raw') return;
      } catch {
        return;
      }
      if (queue.length === 0) setImmediate(flush);
      queue.push([channel, data]);
    });
  });
  await new Promise<void>((r) => (wss.address() ? r() : wss.once('listening', () => r())));
  return async () => {
    await new Promise<void>((r) => wss.close(() => r()));
    await pub.close();
  };
}

async function main(): Promise<void> {
  const [mode, redisUrl, portS, namesJson] = process.argv.slice(2) as [Mode, string, string, string?];
  const port = Number(portS);
  const close =
    mode === 'live'
      ? await live(redisUrl, port, JSON.parse(namesJson ?? '[]') as string[])
      : mode === 'ws'
        ? await ws(redisUrl, port)
        : await gateway(redisUrl, port);
  process.send?.({ type: 'ready', port });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') void close().then(() => process.exit(0));
  });
}

if (process.argv[2] === 'live' || process.argv[2] === 'ws' || process.argv[2] === 'gateway') {
  main().catch((err: unknown) => {
    process.stderr.write(`bare server: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
