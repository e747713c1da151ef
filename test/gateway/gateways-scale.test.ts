import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { RelayClient } from '../../src/client/relay.js';
import { UserChannels } from '../../src/client/channels.js';
import { compareStreamIds } from '../../src/gateway-protocol/index.js';
import { freePort, waitForPort } from '../../src/ops/ports.js';
import { MessageKeys } from '../../src/services/gateway/message-keys.js';
import { register } from '../support/cleanup.js';
import { startRedis } from '../support/redis.js';
import { TOKENS, until } from './helpers.js';

/**
 * Two `canopy gateway` processes on one Redis, behind one address (a TCP
 * switch standing in for a load balancer). A relay is moved from one to the
 * other twice while predictions and alerts are published throughout: it gets
 * every message once, in order, and the backlog holds each message once.
 */

const CLI = path.resolve('dist/src/cli/main.js');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

async function spawnGateway(redisUrl: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'gateway', '--port', String(port)], {
    env: {
      ...process.env,
      REDIS_URL: redisUrl,
      CANOPY_GATEWAY_TOKENS: [...TOKENS].map(([u, t]) => `${u}:${t}`).join(','),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  await waitForPort(port, '127.0.0.1', 60_000);
  return { port, child };
}

/** One address in front of several gateways: new connections go to the current target; `move` also cuts the open ones. */
class Switch {
  readonly #server: net.Server;
  readonly #open = new Set<net.Socket>();
  target: number;

  private constructor(server: net.Server, target: number) {
    this.#server = server;
    this.target = target;
    server.on('connection', (client) => {
      const upstream = net.connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#open.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.#open.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  static async start(target: number): Promise<Switch> {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const sw = new Switch(server, target);
    register({ stop: () => sw.close(), killSync: () => server.close() });
    return sw;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Sends new connections to `target` and cuts the open ones (their relays reconnect, to `target`). */
  move(target: number): void {
    this.target = target;
    for (const s of this.#open) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.#open) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

describe('two gateways on one Redis, a relay moved between them mid-stream', () => {
  it('gets every message once and in order; the backlog holds each message once', async () => {
    const redis = await startRedis();
    const [a, b] = await Promise.all([spawnGateway(redis.url), spawnGateway(redis.url)]);
    const sw = await Switch.start(a.port);
    const consumer = await UserChannels.connect({ redis: { url: redis.url, healthCheckIntervalMs: 0 } });
    const relay = await RelayClient.connect({
      url: `ws://127.0.0.1:${sw.port}`,
      user: 'jamie',
      token: TOKENS.get('jamie')!,
      reconnectBaseMs: 50,
      reconnectMaxMs: 500,
    });
    const got: { kind: string; seq: number; id: string }[] = [];
    relay.on('message', (kind, m, id) => {
      const seq = kind === 'predictions' ? ((m.data as { seq: number }).seq ?? -1) : -1;
      got.push({ kind, seq, id: id ?? '' });
    });
    const raw = createClient({ url: redis.url });
    raw.on('error', () => undefined);
    await raw.connect();
    try {
      // both gateways subscribed (each PSUBSCRIBEs the three back-channel patterns)
      const subscribed = async () =>
        String(await raw.sendCommand(['CLIENT', 'LIST']))
          .split('\n')
          .filter((l) => / psub=3 /.test(l)).length === 2;
      const t = Date.now();
      while (!(await subscribed())) {
        if (Date.now() - t > 30_000) throw new Error('gateways did not subscribe');
        await new Promise((r) => setTimeout(r, 50));
      }

      const N = 1500;
      const SAME_EVERY = 250; // an identical alert, on purpose: kept as often as it was sent
      let published = 0;
      const publishing = (async () => {
        for (let i = 0; i < N; i++) {
          await consumer.publishPrediction('jamie', { data: { seq: i }, source: 'test' });
          if (i % SAME_EVERY === 0) {
            await consumer.publish('jamie', 'alerts', { type: 'alert', severity: 'info', message: 'same' });
          }
          published = i + 1;
          if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const seen = () => got.filter((g) => g.kind === 'predictions').length;
      await until(() => seen() >= 300, 'the first messages through gateway A', 60_000);
      const connectsBefore = relay.stats.connects;
      sw.move(b.port);
      await until(() => relay.stats.connects > connectsBefore && seen() >= 800, 'the relay on gateway B', 60_000);
      expect(published).toBeLessThan(N); // moved while messages were being published
      sw.move(a.port);
      await publishing;
      const alerts = N / SAME_EVERY;
      await until(
        () => seen() >= N && got.length >= N + alerts,
        `every message (got ${seen()} predictions, ${got.length} in all)`,
        60_000,
      );
      await new Promise((r) => setTimeout(r, 300)); // a repeat would arrive now
      expect(relay.stats.connects).toBeGreaterThanOrEqual(3);

      const seqs = got.filter((g) => g.kind === 'predictions').map((g) => g.seq);
      expect(seqs).toEqual([...Array(N).keys()]);
      expect(got.filter((g) => g.kind === 'alerts')).toHaveLength(alerts);
      // one id per message, increasing: what the relay resumes from is valid on either gateway
      const ids = got.map((g) => g.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (let i = 1; i < ids.length; i++) expect(compareStreamIds(ids[i]!, ids[i - 1]!)).toBe(1);
      // each message once in the backlog, although both gateways appended every one
      expect(await raw.xLen('user:jamie:backlog')).toBe(N + alerts);
    } finally {
      await relay.close();
      await consumer.close();
      raw.destroy();
      await sw.close();
      for (const g of [a, b]) g.child.kill('SIGTERM');
    }
  }, 180_000);
});

describe('message keys of the idempotent backlog append', () => {
  it('are the same for one message in every gateway, and keep a message sent twice on purpose twice', () => {
    const a = new MessageKeys(60_000);
    const b = new MessageKeys(60_000);
    const m = Buffer.from('same bytes');
    const t = 1_000_000;
    const ka = [
      a.key('jamie', 'alerts', m, t),
      a.key('jamie', 'alerts', m, t + 10),
      a.key('jamie', 'alerts', m, t + 20),
    ];
    const kb = [
      b.key('jamie', 'alerts', m, t + 5),
      b.key('jamie', 'alerts', m, t + 15),
      b.key('jamie', 'alerts', m, t + 25),
    ];
    expect(kb).toEqual(ka);
    expect(new Set(ka).size).toBe(3);
    expect(ka[1]).toMatch(/:2$/);
    // other user, other kind, other bytes: other keys
    const others = [
      a.key('alex', 'alerts', m, t),
      a.key('jamie', 'commands', m, t),
      a.key('jamie', 'alerts', Buffer.from('other'), t),
    ];
    expect(others.every((k) => k.endsWith(':1') && !ka.includes(k))).toBe(true);
    // after a pause of one window the count starts again, and what is older than a window is forgotten
    expect(a.key('jamie', 'alerts', m, t + 20 + 60_000)).toBe(ka[0]);
    a.key('x', 'alerts', m, t + 200_000);
    expect(a.size).toBe(1);
  });
});
