import http from 'node:http';
import { register } from '../../support/cleanup.js';

export interface StubRequest {
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Date.now() on arrival. */
  at: number;
}

export interface StubServer {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  base: string;
  /** Every request, in arrival order (including the ones answered with an error). */
  requests: StubRequest[];
  /** The next requests are answered with these statuses, in order; then 200. */
  answer(...statuses: number[]): void;
  close(): Promise<void>;
}

/**
 * A local HTTP receiver standing in for ntfy, Telegram's bot API or an SMS
 * gateway: it records each request exactly as it arrived (method, path,
 * headers, raw body) and answers with scripted statuses. Closed when the test
 * file ends.
 */
export async function startStub(): Promise<StubServer> {
  const script: number[] = [];
  const stub: StubServer = {
    base: '',
    requests: [],
    answer: (...s) => void script.push(...s),
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
      stub.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      });
      const status = script.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: status < 300 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  server.keepAliveTimeout = 100;
  register({ stop: () => stub.close(), killSync: () => server.close() });
  return stub;
}
