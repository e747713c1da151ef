import http from 'node:http';
import { register } from './cleanup.js';

export interface TestWebhook {
  url: string;
  /** Parsed JSON bodies of the requests answered with 2xx, in arrival order. */
  bodies: unknown[];
  /** Every request, including the ones failed on purpose. */
  requests: number;
  /** The next `n` requests are answered with HTTP 503. */
  failNext(n: number): void;
  close(): Promise<void>;
}

/** An HTTP receiver on a free loopback port that records JSON POST bodies. Closed when the test file ends. */
export async function startWebhook(): Promise<TestWebhook> {
  let fail = 0;
  const hook: TestWebhook = {
    url: '',
    bodies: [],
    requests: 0,
    failNext: (n) => {
      fail = n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hook.requests++;
      if (fail > 0) {
        fail--;
        res.writeHead(503).end();
        return;
      }
      try {
        hook.bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hook.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  server.keepAliveTimeout = 100;
  register({ stop: () => hook.close(), killSync: () => server.close() });
  return hook;
}
