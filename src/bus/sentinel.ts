import { withDeadline } from './deadline.js';
import { AuthError, ConfigError, ConnectionError, toBusError } from './errors.js';
import type { BusLogger } from './log.js';
import type { RedisNode } from './options.js';
import { makePlainClient } from './redis-client.js';

/** What the sentinel helpers need from the connection options. */
export interface SentinelQueryOptions {
  sentinels: RedisNode[];
  sentinelMaster: string;
  sentinelPassword?: string | undefined;
  connectTimeoutMs: number;
  logger: BusLogger;
}

/** `host:port`, with IPv6 hosts in brackets. */
export function nodeAddress(n: RedisNode): string {
  return n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`;
}

function sentinelClient(o: SentinelQueryOptions, node: RedisNode) {
  return makePlainClient({
    ...(o.sentinelPassword ? { password: o.sentinelPassword } : {}),
    socket: { host: node.host, port: node.port, connectTimeout: o.connectTimeoutMs, reconnectStrategy: false },
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(p, ms, () => {
    throw new ConnectionError(`${what}: no answer within ${ms} ms`);
  });
}

/**
 * Asks the sentinels, in the order given, for the address of the primary
 * (`SENTINEL get-master-addr-by-name`); the first that answers wins. A
 * sentinel that is down or refuses is skipped. Throws {@link ConfigError}
 * when no sentinel knew the master and one said it monitors none of that name,
 * {@link AuthError} when every reachable one refused the password, else
 * {@link ConnectionError} naming each sentinel's failure.
 */
export async function askPrimary(o: SentinelQueryOptions): Promise<RedisNode> {
  const failures: string[] = [];
  let unknownName = 0;
  let authRefused = 0;
  for (const node of o.sentinels) {
    const c = sentinelClient(o, node);
    c.on('error', () => undefined);
    const where = nodeAddress(node);
    try {
      await withTimeout(c.connect(), o.connectTimeoutMs, `sentinel ${where}`);
      const reply = (await withTimeout(
        c.sendCommand(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', o.sentinelMaster]),
        o.connectTimeoutMs,
        `sentinel ${where}`,
      )) as unknown;
      if (!Array.isArray(reply) || reply.length < 2) {
        unknownName++;
        failures.push(`${where}: no master named "${o.sentinelMaster}"`);
        continue;
      }
      const host = String(reply[0]);
      const port = Number(String(reply[1]));
      if (!(port > 0)) throw new ConnectionError(`sentinel ${where} gave a bad port "${String(reply[1])}"`);
      return { host, port };
    } catch (err) {
      const e = toBusError(err, `sentinel ${where}`);
      if (e instanceof AuthError) authRefused++;
      failures.push(`${where}: ${e.message}`);
      o.logger.debug({ sentinel: where, err: e.message }, 'sentinel did not answer');
    } finally {
      if (c.isOpen) c.destroy();
    }
  }
  const detail = failures.join('; ');
  if (unknownName > 0) {
    throw new ConfigError(`the sentinels monitor no master named "${o.sentinelMaster}" (${detail})`);
  }
  if (authRefused > 0 && authRefused === failures.length) {
    throw new AuthError(`every sentinel refused the sentinel password (${detail})`);
  }
  throw new ConnectionError(`no sentinel gave the primary of "${o.sentinelMaster}" (${detail})`);
}

/**
 * Listens for `+switch-master` on one sentinel at a time (the fast path of
 * following a failover; the re-ask on every reconnect attempt is the safety
 * net). When its sentinel goes away it moves to the next one. Calls
 * `onSwitch` with the new primary of the watched master.
 */
export class SentinelWatcher {
  readonly #o: SentinelQueryOptions;
  readonly #onSwitch: (to: RedisNode) => void;
  #client: ReturnType<typeof sentinelClient> | undefined;
  #index = 0;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(o: SentinelQueryOptions, onSwitch: (to: RedisNode) => void) {
    this.#o = o;
    this.#onSwitch = onSwitch;
    void this.#next();
  }

  async #next(): Promise<void> {
    if (this.#closed || this.#o.sentinels.length === 0) return;
    const node = this.#o.sentinels[this.#index % this.#o.sentinels.length] as RedisNode;
    this.#index++;
    const c = sentinelClient(this.#o, node);
    this.#client = c;
    let moved = false;
    const move = () => {
      if (moved || this.#closed) return;
      moved = true;
      if (c.isOpen) c.destroy();
      this.#timer = setTimeout(() => void this.#next(), 500);
      this.#timer.unref();
    };
    c.on('error', move);
    c.on('end', move);
    try {
      await c.connect();
      await c.subscribe('+switch-master', (message) => {
        // "<master name> <old ip> <old port> <new ip> <new port>"
        const [name, , , host, port] = message.split(' ');
        if (name === this.#o.sentinelMaster && host && Number(port) > 0) this.#onSwitch({ host, port: Number(port) });
      });
    } catch {
      move();
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    if (this.#client?.isOpen) this.#client.destroy();
  }
}

/**
 * Parses `INFO replication`: the role and, on a primary, the number of
 * connected replicas. INFO (not ROLE) because every ACL user of the bus may run it.
 */
export function parseReplicationInfo(info: string): { role: string; replicas: number } {
  const role = /^role:(\w+)/m.exec(info)?.[1] ?? 'unknown';
  const replicas = role === 'master' ? Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0) : 0;
  return { role, replicas };
}
