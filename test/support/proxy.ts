import net from 'node:net';
import { register } from './cleanup.js';

/**
 * A small TCP fault-injection proxy between a client and a server on
 * loopback. It forwards bytes both ways and, on demand, pauses traffic
 * (bytes wait, nothing is lost), drops every open connection (as a network
 * cut would) or refuses new ones. Closed when the test file ends.
 */
export class FaultProxy {
  readonly port: number;
  readonly #server: net.Server;
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  #paused = false;
  #refusing = false;
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(server: net.Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new FaultProxy(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => proxy.#accept(client, targetHost, targetPort));
    register({ stop: () => proxy.close(), killSync: () => server.close() });
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Open proxied connections. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Stops reading on both sides: bytes wait in the kernel until {@link resume}. */
  pause(): void {
    this.#paused = true;
    for (const [a, b] of this.#pairs) {
      a.pause();
      b.pause();
    }
  }

  /**
   * Requests still reach the server, its replies wait (a reply cut off in
   * flight, once {@link dropAll} follows); {@link resume} lets them go.
   */
  pauseReplies(): void {
    for (const [, upstream] of this.#pairs) upstream.pause();
  }

  resume(): void {
    this.#paused = false;
    for (const [a, b] of this.#pairs) {
      a.resume();
      b.resume();
    }
  }

  /** Destroys every open connection (both sides); new ones are still accepted. */
  dropAll(): void {
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    this.#pairs.clear();
  }

  /** While true, new connections are closed at once. */
  refuse(on: boolean): void {
    this.#refusing = on;
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket, host: string, port: number): void {
    this.accepted++;
    if (this.#refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(port, host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.#pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.#pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
    if (this.#paused) {
      client.pause();
      upstream.pause();
    }
  }
}
