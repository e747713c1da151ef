import path from 'node:path';
import { loadBaseConfig } from './env.js';
import { list, text } from './read.js';
import { automationEnv } from './automation.js';

/** What `canopy api` takes from the environment (docs/configuration.md). */
export interface ApiEnv {
  /** `CANOPY_API_PORT` (checked with the other options: an integer 0–65535). */
  port: number | undefined;
  /** `CANOPY_API_HOST`, the `--host` default; `127.0.0.1` when unset. */
  host: string;
  /** `CANOPY_API_EXPORT_MAX_ROWS` */
  exportMaxRows: number | undefined;
  /** `CANOPY_API_WS_MAX_CLIENTS` */
  wsMaxClients: number | undefined;
  /** `CANOPY_API_MAX_REQUESTS_PER_SOCKET` */
  maxRequestsPerSocket: number | undefined;
  /** `CANOPY_API_ALLOWED_HOSTS`, comma separated. */
  allowedHosts: string[];
  /** `CANOPY_API_ALLOWED_ORIGINS`, comma separated. */
  allowedOrigins: string[];
  /** `CANOPY_API_TLS_CERT` and `CANOPY_API_TLS_KEY` (paths). */
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** `CANOPY_API_TOKENS` (secret: never logged). */
  tokens: string | undefined;
  /** `CANOPY_API_TOKENS_FILE` */
  tokensFile: string | undefined;
  redisUrl: string | undefined;
  databaseUrl: string;
  /** `DATABASE_READ_URL` (secret: may carry a password). */
  databaseReadUrl: string | undefined;
  /** `$CANOPY_DATA_DIR/fabric` */
  fabricDir: string;
  /** The devices file the control endpoints check commands against (`AUTOMATION_DEVICES`). */
  devicesFile: string;
}

export function apiEnv(env: NodeJS.ProcessEnv = process.env): ApiEnv {
  const base = loadBaseConfig(env);
  const port = text(env, 'CANOPY_API_PORT');
  const rows = text(env, 'CANOPY_API_EXPORT_MAX_ROWS');
  const wsClients = text(env, 'CANOPY_API_WS_MAX_CLIENTS');
  const perSocket = text(env, 'CANOPY_API_MAX_REQUESTS_PER_SOCKET');
  return {
    port: port === undefined ? undefined : Number(port),
    host: env.CANOPY_API_HOST || '127.0.0.1',
    exportMaxRows: rows === undefined ? undefined : Number(rows),
    wsMaxClients: wsClients === undefined ? undefined : Number(wsClients),
    maxRequestsPerSocket: perSocket === undefined ? undefined : Number(perSocket),
    allowedHosts: list(env, 'CANOPY_API_ALLOWED_HOSTS'),
    allowedOrigins: list(env, 'CANOPY_API_ALLOWED_ORIGINS'),
    tlsCert: text(env, 'CANOPY_API_TLS_CERT'),
    tlsKey: text(env, 'CANOPY_API_TLS_KEY'),
    tokens: text(env, 'CANOPY_API_TOKENS'),
    tokensFile: text(env, 'CANOPY_API_TOKENS_FILE'),
    redisUrl: base.redisUrl,
    databaseUrl: base.databaseUrl,
    databaseReadUrl: base.databaseReadUrl,
    fabricDir: path.join(base.dataDir, 'fabric'),
    devicesFile: automationEnv(env).devicesFile,
  };
}
