import net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Runs `probe` every 50 ms until it says true; rejects with `what` once
 * `timeoutMs` have passed. The probe gets the time left, to bound its own wait.
 */
async function pollUntil(probe: (leftMs: number) => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await probe(Math.max(50, deadline - performance.now()))) return;
    if (performance.now() > deadline) throw new Error(`${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves once a TCP connect to host:port succeeds, or rejects at the deadline. */
export function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 15_000): Promise<void> {
  const connects = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  return pollUntil(connects, timeoutMs, `nothing listens on ${host}:${port}`);
}

/**
 * Resolves once a Redis server on host:port answers an inline `PING` with any
 * RESP reply (`+PONG`, `-NOAUTH`, `-LOADING` all count), or rejects at the
 * deadline. A TCP connect alone is not enough: the kernel accepts into the
 * listen backlog as soon as redis-server binds its client port, before it
 * has bound its cluster-bus port or run its event loop, and a server that then
 * fails that bind exits a moment later. A reply means its start-up is over.
 */
export function waitForRedis(port: number, host = '127.0.0.1', timeoutMs = 15_000): Promise<void> {
  const replies = (leftMs: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host });
      const done = (v: boolean) => {
        clearTimeout(t);
        s.destroy();
        resolve(v);
      };
      const t = setTimeout(() => done(false), leftMs);
      s.once('connect', () => s.write('PING\r\n'));
      s.once('data', () => done(true));
      s.once('error', () => done(false));
      s.once('close', () => done(false));
    });
  return pollUntil(replies, timeoutMs, `no Redis reply on ${host}:${port}`);
}
