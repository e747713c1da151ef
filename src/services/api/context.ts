import type { ControlConfig } from '../../cea/control/config.js';
import type { Connection } from '../../bus/connection.js';
import { withDeadline } from '../../bus/deadline.js';
import type { FabricFiles } from '../../bus/fallback/records.js';
import type { LiveState } from '../../bus/state.js';
import type { Logger } from '../../util/log.js';
import type { TokenAuth } from './auth.js';
import type { SensorInfo } from './catalogue.js';
import type { ApiMetrics } from './metrics.js';
import type { ApiOptions } from './options.js';
import type { ReadStatus } from '../../store/types.js';
import type { ApiStore } from './store-port.js';
import type { UpdateFeed } from './updates.js';
import type { WsHub } from './ws-hub.js';

/** Everything a route needs, built once per app (no module-level state). */
export interface ApiContext {
  options: ApiOptions;
  conn: Connection;
  /** The live keys (`sensor:<name>` + `:ts`). */
  live: LiveState;
  store: ApiStore | undefined;
  catalogue: SensorInfo[];
  byName: Map<string, SensorInfo>;
  feed: UpdateFeed | undefined;
  /** The devices file as read at start (undefined when unusable: control commands are refused). */
  control: ControlConfig | undefined;
  hub: WsHub;
  metrics: ApiMetrics;
  auth: TokenAuth;
  log: Logger;
  startedAt: number;
  /** The fabric's fallback files (heartbeats of services while Redis is away). */
  fabric?: FabricFiles;
}

export type ApiErrorCode =
  | 'API_BAD_PARAMETER'
  | 'API_NOT_FOUND'
  | 'API_REDIS_DOWN'
  | 'API_STORE_DOWN'
  | 'API_NO_STORE'
  | 'API_NO_DASHBOARD'
  | 'API_BUSY'
  | 'API_EXPORT_TOO_LARGE'
  | 'API_BAD_RECORD';

/** An error the API answers with its own status code and a stable `code`. */
export class ApiError extends Error {
  readonly statusCode: number;
  readonly code: ApiErrorCode;
  constructor(statusCode: number, code: ApiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.code = code;
  }
}

/** Runs a Redis read; a down or failing Redis becomes a 503. */
export async function withRedis<T>(ctx: ApiContext, what: string, fn: () => Promise<T>): Promise<T> {
  if (!ctx.conn.isReady) throw new ApiError(503, 'API_REDIS_DOWN', `Redis is unavailable (${ctx.conn.health})`);
  try {
    return await fn();
  } catch (err) {
    throw new ApiError(503, 'API_REDIS_DOWN', `Redis is unavailable: ${what} failed (${(err as Error).message})`, {
      cause: err,
    });
  }
}

/** Runs a store call; a missing or failing store becomes a 503. */
export async function withStore<T>(ctx: ApiContext, what: string, fn: (s: ApiStore) => Promise<T>): Promise<T> {
  const store = ctx.store;
  if (!store) throw new ApiError(503, 'API_NO_STORE', 'no history store is configured');
  try {
    return await fn(store);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    ctx.log.warn({ err: (err as Error).message, what }, 'store call failed');
    throw new ApiError(503, 'API_STORE_DOWN', `the history store is unavailable: ${what} failed`, { cause: err });
  }
}

/**
 * The store's read side (replica lag, fallbacks) within `ms`: a replica that does not answer by then is
 * reported down. undefined without a store that tells.
 */
export async function readStatusOf(store: ApiStore | undefined, ms: number): Promise<ReadStatus | undefined> {
  if (!store?.readStatus) return undefined;
  // the probe gives up a little earlier than the caller, so the answer says "down" rather than nothing
  return within(store.readStatus(Math.max(1, Math.floor(ms * 0.8))), ms, 'store read status');
}

/** Rejects after `ms` unless `p` settles first. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(p, ms, () => {
    throw new Error(`${what} did not answer within ${ms} ms`);
  });
}

/** `from`/`to` parameter: unix ms (digits) or ISO-8601. */
export function parseTime(value: string | undefined, param: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d{1,15}$/.test(value)) return Number(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const t = Date.parse(value);
    if (Number.isFinite(t)) return t;
  }
  throw new ApiError(
    400,
    'API_BAD_PARAMETER',
    `query parameter "${param}" must be an ISO-8601 time (2024-01-15T10:30:00Z) or unix milliseconds, got "${value}"`,
  );
}

/** Resolves the time range of a query: `to` defaults to now, `from` to `to − defaultMs`; from < to. */
export function timeRange(q: { from?: string; to?: string }, defaultMs: number): { from: number; to: number } {
  const to = parseTime(q.to, 'to') ?? Date.now();
  const from = parseTime(q.from, 'from') ?? to - defaultMs;
  if (!(from < to)) {
    throw new ApiError(
      400,
      'API_BAD_PARAMETER',
      `query parameter "from" must be before "to" (from=${new Date(from).toISOString()}, to=${new Date(to).toISOString()})`,
    );
  }
  return { from, to };
}
