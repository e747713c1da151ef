import { createClient } from 'redis';
import { busScripts } from './lua-scripts.js';
import type { ConnectionOptions, RedisNode } from './options.js';
import { parseRedisUrl } from './options.js';

/** node-redis's reconnect strategy: a delay in ms, `false` to stop, or an Error to give up with. */
export type ReconnectStrategy = (retries: number, cause: Error) => false | Error | number;

/**
 * A node-redis client with the bus's options and scripts. With `node`, it
 * goes to that server (a primary found through Sentinel) with the URL's
 * credentials, TLS and database; else to the URL.
 */
export function makeClient(o: ConnectionOptions, strategy: ReconnectStrategy, node?: RedisNode) {
  const u = parseRedisUrl(o.url);
  return createClient({
    ...(node ? {} : { url: o.url }),
    ...(node && u.username ? { username: u.username } : {}),
    ...(node && u.password ? { password: u.password } : {}),
    database: o.db,
    name: o.clientName,
    commandOptions: { timeout: o.commandTimeoutMs },
    scripts: busScripts(),
    socket: {
      ...(node ? { host: node.host, port: node.port } : {}),
      connectTimeout: o.connectTimeoutMs,
      ...(u.tls ? { tls: true as const } : {}),
      reconnectStrategy: strategy,
    },
  });
}

/** The underlying node-redis client (RESP3, default type mapping). */
export type RedisClient = ReturnType<typeof makeClient>;
