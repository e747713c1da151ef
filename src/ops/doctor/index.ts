import { parseStoreUrl } from '../backup.js';
import { redisChecks } from './redis.js';
import { topologyChecks } from './topology.js';
import { redisConnectionFromEnv } from '../../config/redis.js';
import { relayChecks, type RelayCheckOptions } from './relays.js';
import { storeChecks } from './store.js';
import { canCheck, clockCheck, diskCheck } from './system.js';
import type { CheckResult } from './types.js';
import { DAY_MS } from '../../store/options.js';
import { SQLITE_DEFAULT_RAW_DAYS } from '../../store/retention.js';

export type { CheckResult } from './types.js';

/** What `canopy doctor` examines. */
export interface DoctorOptions {
  /** REDIS_URL. */
  redisUrl: string;
  /** DATABASE_URL. */
  databaseUrl: string;
  /** CANOPY_DATA_DIR. */
  dataDir: string;
  /** @defaultValue [] — services whose heartbeat must be live. */
  expectServices: string[];
  /** @defaultValue `can0` — `CAN_INTERFACE`. */
  canInterface: string;
  /** @defaultValue false — whether a missing CAN interface is a failure. */
  canRequired: boolean;
  /** @defaultValue 3000 — connect timeout for Redis and PostgreSQL. */
  timeoutMs: number;
  /** @defaultValue `/sys` */
  sysRoot: string;
  /** @defaultValue `ip` */
  ip: string;
  /** @defaultValue `timedatectl` */
  timedatectl: string;
  /** @defaultValue `chronyc` */
  chronyc: string;
  /** @defaultValue 5 */
  diskFailPct: number;
  /** @defaultValue 15 */
  diskWarnPct: number;
  /** @defaultValue 90 days (the SQLite default) — how long the worker keeps raw rows (CANOPY_RETENTION_RAW_DAYS), ms; 0: forever. */
  rawRetentionMs: number;
  /** @defaultValue unset (not checked) — the relay bus and devices file the automation uses: every MCP23017 is probed. */
  relays?: RelayCheckOptions;
}

export const DOCTOR_DEFAULTS = {
  expectServices: [] as string[],
  canInterface: 'can0',
  canRequired: false,
  timeoutMs: 3000,
  sysRoot: '/sys',
  ip: 'ip',
  timedatectl: 'timedatectl',
  chronyc: 'chronyc',
  diskFailPct: 5,
  diskWarnPct: 15,
  rawRetentionMs: SQLITE_DEFAULT_RAW_DAYS * DAY_MS,
};

export interface DoctorReport {
  ok: boolean;
  checks: CheckResult[];
}

/** Runs every check; `ok` is false when any check failed (warnings do not count). */
export async function runDoctor(
  input: Pick<DoctorOptions, 'redisUrl' | 'databaseUrl' | 'dataDir'> & Partial<DoctorOptions>,
): Promise<DoctorReport> {
  const o: DoctorOptions = { ...DOCTOR_DEFAULTS, ...input };
  const env = redisConnectionFromEnv();
  const [redis, topology, store, relays] = await Promise.all([
    redisChecks({ url: o.redisUrl, expectServices: o.expectServices, timeoutMs: o.timeoutMs }),
    topologyChecks({
      sentinels: env.sentinels ?? [],
      sentinelMaster: env.sentinelMaster ?? 'mymaster',
      ...(env.sentinelPassword !== undefined ? { sentinelPassword: env.sentinelPassword } : {}),
      clusterNodes: env.clusterNodes ?? [],
      url: o.redisUrl,
      timeoutMs: o.timeoutMs,
    }),
    storeChecks(o.databaseUrl, o.timeoutMs, o.rawRetentionMs),
    o.relays ? relayChecks(o.relays) : Promise.resolve([]),
  ]);
  let sqliteFile: string | undefined;
  try {
    const s = parseStoreUrl(o.databaseUrl);
    if (s.kind === 'sqlite') sqliteFile = s.file;
  } catch {
    // reported by the store checks
  }
  const checks = [
    ...redis.filter((c) => c.id !== 'heartbeats'),
    ...topology,
    ...store,
    canCheck({ iface: o.canInterface, required: o.canRequired, sysRoot: o.sysRoot, ip: o.ip }),
    ...relays,
    clockCheck({ timedatectl: o.timedatectl, chronyc: o.chronyc }),
    diskCheck({
      dataDir: o.dataDir,
      failPct: o.diskFailPct,
      warnPct: o.diskWarnPct,
      ...(sqliteFile ? { sqliteFile } : {}),
    }),
    ...redis.filter((c) => c.id === 'heartbeats'),
  ];
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}

const MARK = { ok: '✓', warn: '!', fail: '✗' } as const;

/** One line per check (✓ ! ✗), the fix under each problem, and a summary. */
export function formatReport(r: DoctorReport): string {
  const width = Math.max(...r.checks.map((c) => c.title.length));
  const lines: string[] = [];
  for (const c of r.checks) {
    lines.push(`${MARK[c.status]} ${c.title.padEnd(width)}  ${c.detail}`);
    if (c.status !== 'ok' && c.fix) lines.push(`  ${' '.repeat(width)}  fix: ${c.fix}`);
  }
  const failed = r.checks.filter((c) => c.status === 'fail').length;
  const warned = r.checks.filter((c) => c.status === 'warn').length;
  lines.push(
    failed === 0
      ? `all good${warned ? ` (${warned} warning${warned > 1 ? 's' : ''})` : ''}`
      : `${failed} problem${failed > 1 ? 's' : ''} found${warned ? `, ${warned} warning${warned > 1 ? 's' : ''}` : ''}`,
  );
  return lines.join('\n') + '\n';
}
