/**
 * What `canopy monitor backend` shows, gathered in one pass: the stream and
 * its groups' lag, the newest entries, live sensor values, heartbeats,
 * systemd unit states, the API's /health and Redis memory. Each part fails
 * on its own (an error shown in its place), never the whole screen.
 */
import { CAN_RAW, SENSOR_LIVE_PREFIX } from '../contracts/names.js';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { Connection } from '../bus/connection.js';
import { listInstances } from '../bus/presence.js';
import type { StreamFrameSource } from './can-sources.js';
import type { DisplayFrame } from './frames.js';

/** Options of {@link collectBackend}. */
export interface BackendMonitorOptions {
  /** @defaultValue `can:raw` */
  stream: string;
  /** Newest stream entries shown. @defaultValue 5 */
  entries: number;
  /** @defaultValue `sensor:` — live value keys (`<prefix><name>` and `<prefix><name>:ts`). */
  livePrefix: string;
  /** The API's base URL; `/health` is appended. @defaultValue `CANOPY_API_URL`, else `http://127.0.0.1:$CANOPY_API_PORT` (8000) */
  apiUrl: string;
  /** @defaultValue 1500 */
  httpTimeoutMs: number;
  /** systemd units whose `systemctl is-active` is shown. @defaultValue the canopy-*.service units */
  units: string[];
  /** `auto`: only where systemd runs (`/run/systemd/system` exists). @defaultValue `auto` */
  systemd: 'auto' | boolean;
  /** @defaultValue `systemctl` */
  systemctl: string;
  /** @defaultValue `Date.now` */
  now: () => number;
}

export const CANOPY_UNITS = [
  'scanner',
  'worker',
  'api',
  'automation',
  'alerts',
  'recorder',
  'analytics',
  'exporter',
  'gateway',
].map((s) => `canopy-${s}.service`);

export function defaultApiUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.CANOPY_API_URL || `http://127.0.0.1:${env.CANOPY_API_PORT || 8000}`;
}

export function resolveBackendOptions(o: Partial<BackendMonitorOptions> = {}): BackendMonitorOptions {
  const r: BackendMonitorOptions = {
    stream: CAN_RAW,
    entries: 5,
    livePrefix: SENSOR_LIVE_PREFIX,
    apiUrl: defaultApiUrl(),
    httpTimeoutMs: 1500,
    units: CANOPY_UNITS,
    systemd: 'auto',
    systemctl: 'systemctl',
    now: Date.now,
    ...o,
  };
  if (!Number.isInteger(r.entries) || r.entries < 0) throw new RangeError('entries must be an integer ≥ 0');
  if (!/^https?:\/\//.test(r.apiUrl)) throw new RangeError(`apiUrl must be an http(s) URL, not ${r.apiUrl}`);
  return r;
}

export type Part<T> = { ok: true; value: T } | { ok: false; error: string };

async function part<T>(fn: () => Promise<T>): Promise<Part<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: (err as Error).message.split('\n')[0] ?? 'error' };
  }
}

export interface RedisInfo {
  version: string;
  usedMemory: string;
  peakMemory: string;
  maxMemory: string;
  clients: string;
  opsPerSec: string;
}

export interface GroupInfo {
  name: string;
  consumers: number;
  pending: number;
  /** null when Redis cannot tell (entries deleted past the group's position). */
  lag: number | null;
}

export interface StreamInfo {
  length: number;
  groups: GroupInfo[];
}

export interface SensorValue {
  name: string;
  value: string;
  ageMs: number | null;
}

export interface ServiceBeat {
  instance: string;
  service: string;
  paused: boolean;
  ageMs: number | null;
}

export interface ApiHealth {
  url: string;
  /** HTTP status, or null when nothing answered. */
  status: number | null;
  /** `ok` / `down` from the body, or the error. */
  summary: string;
  latencyMs: number;
}

export interface BackendSnapshot {
  now: number;
  stream: string;
  redis: Part<RedisInfo>;
  streamInfo: Part<StreamInfo>;
  entries: Part<DisplayFrame[]>;
  sensors: Part<SensorValue[]>;
  services: Part<ServiceBeat[]>;
  /** unit → `active`, `inactive`, `failed`…; null where systemd does not run. */
  units: Part<{ unit: string; state: string }[]> | null;
  api: ApiHealth;
}

/** Flat `[k1, v1, k2, v2…]` (RESP2) or a Map (RESP3) → object. */
function pairs(x: unknown): Record<string, unknown> {
  if (x instanceof Map) return Object.fromEntries(x);
  if (Array.isArray(x)) {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < x.length; i += 2) o[String(x[i])] = x[i + 1];
    return o;
  }
  return (x ?? {}) as Record<string, unknown>;
}

async function redisInfo(conn: Connection): Promise<RedisInfo> {
  const info = await conn.run('INFO', (c) => c.info());
  const field = (k: string) => new RegExp(`^${k}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '?';
  return {
    version: field('redis_version'),
    usedMemory: field('used_memory_human'),
    peakMemory: field('used_memory_peak_human'),
    maxMemory: field('maxmemory_human'),
    clients: field('connected_clients'),
    opsPerSec: field('instantaneous_ops_per_sec'),
  };
}

async function streamInfo(conn: Connection, stream: string): Promise<StreamInfo> {
  const length = await conn.run('XLEN', (c) => c.xLen(stream));
  // (no EXISTS: the monitor's ACL user may only read the stream) a missing stream has length 0 and no groups
  let raw: unknown[];
  try {
    raw = (await conn.run('XINFO GROUPS', (c) => c.sendCommand(['XINFO', 'GROUPS', stream]))) as unknown[];
  } catch (err) {
    if (length === 0) return { length, groups: [] };
    throw err;
  }
  const groups = raw.map((g): GroupInfo => {
    const gi = pairs(g);
    return {
      name: String(gi.name),
      consumers: Number(gi.consumers),
      pending: Number(gi.pending),
      lag: gi.lag === null || gi.lag === undefined ? null : Number(gi.lag),
    };
  });
  return { length, groups };
}

async function sensors(conn: Connection, prefix: string, now: number): Promise<SensorValue[]> {
  const keys: string[] = [];
  await conn.run('SCAN live', async (c) => {
    for await (const batch of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      for (const k of batch) if (!String(k).endsWith(':ts')) keys.push(String(k));
    }
  });
  keys.sort();
  if (keys.length === 0) return [];
  const vals = await conn.run('MGET live', (c) => c.mGet(keys.flatMap((k) => [k, `${k}:ts`])));
  return keys.map((k, i) => {
    const ts = Number(vals[2 * i + 1]);
    return {
      name: k.slice(prefix.length),
      value: vals[2 * i] ?? '-',
      ageMs: Number.isFinite(ts) && ts > 0 ? Math.max(0, now - ts) : null,
    };
  });
}

async function services(conn: Connection, now: number): Promise<ServiceBeat[]> {
  return (await listInstances(conn)).map((l) => {
    const beat = Date.parse(String(l.info?.updated_at ?? ''));
    return {
      instance: l.instance,
      service: String(l.info?.service ?? '?'),
      paused: Boolean(l.info?.paused),
      ageMs: Number.isFinite(beat) ? Math.max(0, now - beat) : null,
    };
  });
}

/** `systemctl is-active` of each unit (one call); exit status 3 only means some are not active. */
export function unitStates(units: string[], systemctl = 'systemctl'): Promise<{ unit: string; state: string }[]> {
  return new Promise((resolve, reject) => {
    execFile(systemctl, ['is-active', ...units], { timeout: 3000 }, (err, stdout) => {
      const lines = String(stdout).trim().split('\n');
      if (err && lines.length !== units.length) {
        reject(err);
        return;
      }
      resolve(units.map((unit, i) => ({ unit, state: lines[i]?.trim() || 'unknown' })));
    });
  });
}

export async function apiHealth(baseUrl: string, timeoutMs: number): Promise<ApiHealth> {
  const url = `${baseUrl.replace(/\/+$/, '')}/health`;
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    let summary = res.ok ? 'ok' : `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as {
        status?: unknown;
        redis?: { status?: unknown };
        store?: { status?: unknown };
      };
      if (typeof body.status === 'string') {
        summary = `${body.status} (redis ${String(body.redis?.status ?? '?')}, store ${String(body.store?.status ?? '?')})`;
      }
    } catch {
      // not JSON: the status code says enough
    }
    return { url, status: res.status, summary, latencyMs: ms() };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? `no answer in ${timeoutMs} ms` : (e.cause?.code ?? e.message);
    return { url, status: null, summary: why, latencyMs: ms() };
  }
}

function systemdRuns(mode: 'auto' | boolean): boolean {
  return mode === 'auto' ? fs.existsSync('/run/systemd/system') : mode;
}

/** Gathers one screen's data; the parts run in parallel and fail on their own. */
export async function collectBackend(
  conn: Connection,
  frames: StreamFrameSource,
  o: BackendMonitorOptions,
): Promise<BackendSnapshot> {
  const now = o.now();
  const [redis, si, entries, sv, sb, units, api] = await Promise.all([
    part(() => redisInfo(conn)),
    part(() => streamInfo(conn, o.stream)),
    part(() => (o.entries > 0 ? frames.latest(o.entries) : Promise.resolve([]))),
    part(() => sensors(conn, o.livePrefix, now)),
    part(() => services(conn, now)),
    systemdRuns(o.systemd) ? part(() => unitStates(o.units, o.systemctl)) : Promise.resolve(null),
    apiHealth(o.apiUrl, o.httpTimeoutMs),
  ]);
  return { now, stream: o.stream, redis, streamInfo: si, entries, sensors: sv, services: sb, units, api };
}
