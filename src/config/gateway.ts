import { optionalNumber, text } from './read.js';

/** What `canopy gateway` takes from the environment (docs/configuration.md); unset fields keep the defaults. */
export interface GatewayEnv {
  /** `CANOPY_GATEWAY_HOST` */
  host: string | undefined;
  /** `CANOPY_GATEWAY_PORT` */
  port: number | undefined;
  /** `CANOPY_GATEWAY_MAX_MESSAGE_BYTES` */
  maxMessageBytes: number | undefined;
  /** `CANOPY_GATEWAY_RATE` — messages per second per connection. */
  ratePerSecond: number | undefined;
  /** `CANOPY_GATEWAY_BACKLOG_MS` */
  backlogWindowMs: number | undefined;
  /** `CANOPY_GATEWAY_MAX_CONNECTIONS` */
  maxConnections: number | undefined;
  /** `CANOPY_GATEWAY_HANDSHAKE_TIMEOUT_MS` */
  handshakeTimeoutMs: number | undefined;
  /** `CANOPY_GATEWAY_PING_MS` */
  pingIntervalMs: number | undefined;
  /** `CANOPY_GATEWAY_TOKENS` — `user:token` pairs (secret: never logged). */
  tokens: string | undefined;
  /** `CANOPY_GATEWAY_TOKENS_FILE` — one `user:token` per line, mode 0600. */
  tokensFile: string | undefined;
}

export function gatewayEnv(env: NodeJS.ProcessEnv = process.env): GatewayEnv {
  return {
    host: text(env, 'CANOPY_GATEWAY_HOST'),
    port: optionalNumber(env, 'CANOPY_GATEWAY_PORT'),
    maxMessageBytes: optionalNumber(env, 'CANOPY_GATEWAY_MAX_MESSAGE_BYTES'),
    ratePerSecond: optionalNumber(env, 'CANOPY_GATEWAY_RATE'),
    backlogWindowMs: optionalNumber(env, 'CANOPY_GATEWAY_BACKLOG_MS'),
    maxConnections: optionalNumber(env, 'CANOPY_GATEWAY_MAX_CONNECTIONS'),
    handshakeTimeoutMs: optionalNumber(env, 'CANOPY_GATEWAY_HANDSHAKE_TIMEOUT_MS'),
    pingIntervalMs: optionalNumber(env, 'CANOPY_GATEWAY_PING_MS'),
    tokens: text(env, 'CANOPY_GATEWAY_TOKENS'),
    tokensFile: text(env, 'CANOPY_GATEWAY_TOKENS_FILE'),
  };
}
