import { ConfigError } from '../../bus/errors.js';
import type { BusLogger } from '../../bus/log.js';
import { silentLogger } from '../../bus/log.js';
import type { ConnectionOptions } from '../../bus/options.js';
import { isUserCodecName, type UserCodecName } from '../../contracts/user-channels.js';
import { gatewayEnv as readGatewayEnv } from '../../config/gateway.js';
import { loadTokens } from './tokens.js';

/** Everything `canopy gateway` can be told. */
export interface GatewayOptions {
  /** @defaultValue `127.0.0.1` — `CANOPY_GATEWAY_HOST`; `0.0.0.0` for relays on other machines. */
  host: string;
  /** @defaultValue 8765 — `CANOPY_GATEWAY_PORT`; 0 picks a free port. */
  port: number;
  /** User → token. @defaultValue from `CANOPY_GATEWAY_TOKENS` / `CANOPY_GATEWAY_TOKENS_FILE` */
  tokens: ReadonlyMap<string, string>;
  /** @defaultValue 65536 — `CANOPY_GATEWAY_MAX_MESSAGE_BYTES`; a bigger message closes the connection with 1009. */
  maxMessageBytes: number;
  /** @defaultValue 500 — `CANOPY_GATEWAY_RATE`: sustained messages/s per connection; more closes it with 1008. */
  ratePerSecond: number;
  /** @defaultValue 2 × ratePerSecond — messages a connection may send at once above the rate. */
  rateBurst: number;
  /**
   * @defaultValue 1 MiB — bytes waiting in one relay's socket; a relay that
   * lets more pile up is closed with 1008 (it resumes from the backlog).
   */
  maxBufferedBytes: number;
  /** @defaultValue 60000 — `CANOPY_GATEWAY_BACKLOG_MS`: how long back-channel messages stay in `user:{id}:backlog`. */
  backlogWindowMs: number;
  /** @defaultValue 10000 — most entries replayed to one reconnecting relay. */
  backlogMaxReplay: number;
  /** @defaultValue 16 — connections one user may hold at once. */
  maxConnectionsPerUser: number;
  /**
   * @defaultValue `msgpack` — encoding of what the gateway publishes on
   * `user:{id}:raw|features`: JSON from a relay is re-encoded; MessagePack is
   * passed on byte for byte.
   */
  publishCodec: UserCodecName;
  /**
   * @defaultValue 20000 — relay messages that may wait for Redis at once;
   * above it the gateway stops reading relays until half have been answered.
   */
  maxInFlight: number;
  /**
   * @defaultValue 64 MiB — hard cap on the bytes of relay messages waiting
   * for Redis (what paused relays had already sent still arrives); beyond
   * it messages are answered `unavailable`, never queued.
   */
  maxInFlightBytes: number;
  /** @defaultValue 32 — nested maps/arrays a relay message may have; deeper is refused with error code `limit`. */
  maxDepth: number;
  /**
   * @defaultValue 1024 — TCP connections the gateway holds at once (relays
   * and requests not yet upgraded); more are closed on accept.
   */
  maxConnections: number;
  /** @defaultValue 10000 — a client must send its request headers (the upgrade request) within this many ms. */
  handshakeTimeoutMs: number;
  /** @defaultValue 30000 — WebSocket ping interval; a relay that misses two pongs is dropped. */
  pingIntervalMs: number;
  /** @defaultValue `{}` — REDIS_URL etc. from the environment */
  redis: Partial<ConnectionOptions>;
  /** @defaultValue silent */
  logger: BusLogger;
}

export const GATEWAY_DEFAULTS: Omit<GatewayOptions, 'tokens' | 'rateBurst'> = {
  host: '127.0.0.1',
  port: 8765,
  maxMessageBytes: 65536,
  ratePerSecond: 500,
  maxBufferedBytes: 1024 * 1024,
  backlogWindowMs: 60_000,
  backlogMaxReplay: 10_000,
  maxConnectionsPerUser: 16,
  publishCodec: 'msgpack',
  pingIntervalMs: 30_000,
  maxInFlight: 20_000,
  maxInFlightBytes: 64 * 1024 * 1024,
  maxDepth: 32,
  maxConnections: 1024,
  handshakeTimeoutMs: 10_000,
  redis: {},
  logger: silentLogger,
};

/** Options from the environment (`CANOPY_GATEWAY_*`, src/config/gateway.ts), before explicit ones. */
export function gatewayEnv(env: NodeJS.ProcessEnv = process.env): Partial<GatewayOptions> {
  const { tokens, tokensFile, ...rest } = readGatewayEnv(env);
  const o = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<GatewayOptions>;
  if (tokens || tokensFile)
    o.tokens = loadTokens({ CANOPY_GATEWAY_TOKENS: tokens, CANOPY_GATEWAY_TOKENS_FILE: tokensFile });
  return o;
}

/** Spreads defaults, validates everything at once, computes derived defaults. */
export function resolveGatewayOptions(opts: Partial<GatewayOptions> = {}): GatewayOptions {
  const defined = Object.fromEntries(
    Object.entries(opts).filter(([, v]) => v !== undefined),
  ) as Partial<GatewayOptions>;
  const base = { ...GATEWAY_DEFAULTS, tokens: new Map<string, string>(), ...defined };
  const o: GatewayOptions = { ...base, rateBurst: defined.rateBurst ?? 2 * base.ratePerSecond };
  const problems: string[] = [];
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) problems.push(`port must be 0–65535, got ${o.port}`);
  for (const k of [
    'maxMessageBytes',
    'ratePerSecond',
    'rateBurst',
    'maxBufferedBytes',
    'backlogWindowMs',
    'backlogMaxReplay',
    'maxConnectionsPerUser',
    'pingIntervalMs',
    'maxInFlight',
    'maxInFlightBytes',
    'maxDepth',
    'maxConnections',
    'handshakeTimeoutMs',
  ] as const) {
    if (!(o[k] > 0)) problems.push(`${k} must be > 0, got ${o[k]}`);
  }
  if (!isUserCodecName(o.publishCodec))
    problems.push(`publishCodec must be msgpack or json, got ${String(o.publishCodec)}`);
  if (o.tokens.size === 0)
    problems.push('no relay tokens: set CANOPY_GATEWAY_TOKENS (user:token,…) or CANOPY_GATEWAY_TOKENS_FILE');
  if (problems.length > 0) throw new ConfigError(`gateway options: ${problems.join('; ')}`);
  return o;
}
