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

/** Resolves once a TCP connect to host:port succeeds, or rejects at the deadline. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Resolves once a Redis server on host:port answers an inline `PING` with any
 * RESP reply (`+PONG`, `-NOAUTH`, `-LOADING` all count), or rejects at the
 * deadline. A TCP connect alone is not enough: the kernel accepts into the
 * listen backlog as soon as redis-server binds its client port, before it
 * has bound its cluster-bus port or run its event loop, and a server that then
 * fails that bind exits a moment later. A reply means its start-up is over.
 */
export async function waitForRedis(port: number, host = '127.0.0.1', timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host });
      const done = (v: boolean) => {
        clearTimeout(t);
        s.destroy();
        resolve(v);
      };
      const t = setTimeout(() => done(false), Math.max(50, deadline - performance.now()));
      s.once('connect', () => s.write('PING\r\n'));
      s.once('data', () => done(true));
      s.once('error', () => done(false));
      s.once('close', () => done(false));
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`no Redis reply on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
