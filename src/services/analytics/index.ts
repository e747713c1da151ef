import { ANALYTICS_PREFIX, ANALYTICS_UPDATE, SENSOR_UPDATE } from '../../contracts/names.js';
import { ConfigError } from '../../bus/errors.js';
import type { Subscription } from '../../bus/subscriber.js';
import { startServiceRuntime, type ServiceRuntime, type ServiceRuntimeOptions } from '../common/runtime.js';
import { checkSensorUpdate, readingsOf, updateTime, type SensorUpdate } from '../common/updates.js';
import type { ServiceHandle } from '../types.js';
import { BandTimer, localDay, RollingWindow, type DailyExtremes, type WindowStats, type WindowTrend } from './stats.js';
import { setBounded } from '../../util/bounded.js';
import { defaultConfigFile } from '../../can/paths.js';
import { loadAlertRules } from '../../cea/alerts/rules-file.js';
import {
  estimate,
  loadDeviceThresholds,
  nextOf,
  thresholdsFromAlertRules,
  thresholdsOf,
  type ThresholdEta,
  type ThresholdSpec,
} from './thresholds.js';

/** Caps on the sensors and rooms analytics keeps statistics of (names come from sensor:update). */
export const ANALYTICS_LIMITS = { sensors: 10_000, rooms: 256 };

export * from './stats.js';
export * from './thresholds.js';

/** Options of `canopy analytics`. */
export interface AnalyticsConfig {
  /** @defaultValue 5000 — how often `analytics:update` is published and the keys refreshed. */
  publishMs: number;
  /** @defaultValue `{ '*': [0.8, 1.2] }` — VPD target band (kPa) per location; `*` for the others. */
  vpdBands: Record<string, [number, number]>;
  /** @defaultValue `analytics:` — `analytics:latest` and `analytics:daily:<YYYY-MM-DD>`. */
  keyPrefix: string;
  /** @defaultValue 35 — days the daily keys are kept. */
  dailyTtlDays: number;
  /** @defaultValue max(60, 3 × publishMs / 1000) — seconds `analytics:latest` lives without a refresh (gone when analytics stops). */
  latestTtlS: number;
  /** @defaultValue 3600000 — readings the trend (least-squares slope) is fitted over. */
  trendWindowMs: number;
  /** @defaultValue 3 — fewer readings in the window give no slope. */
  trendMinPoints: number;
  /** @defaultValue min(300000, trendWindowMs / 4) — readings spanning less than this give no slope. */
  trendMinSpanMs: number;
  /** @defaultValue 86400 — time-to-threshold estimates further away than this (seconds) are null. */
  etaHorizonS: number;
  /** @defaultValue `[]` — configured limits (`--limit SENSOR=LOW:HIGH`); they win over the files' levels. */
  limits: ThresholdSpec[];
  /** @defaultValue the shipped `config/devices.yaml` — setpoints and hard limits as thresholds; null for none. */
  devicesFile: string | null;
  /** @defaultValue the shipped `config/alerts.yaml` — the alert rules' levels as thresholds; null for none. */
  alertRulesFile: string | null;
  /** @defaultValue `{}` — passed to {@link startServiceRuntime}. */
  runtime: Partial<Omit<ServiceRuntimeOptions, 'service'>>;
}

export interface SensorAnalytics {
  location: string;
  cluster: string;
  last: number;
  last_at: string;
  m1: WindowStats;
  h1: WindowStats;
  today: DailyExtremes;
  /** Least-squares trend over `trendWindowMs`. */
  trend: WindowTrend & { window_s: number };
  /** Every threshold of the sensor, with the time the trend reaches it (from the last reading). */
  thresholds: ThresholdEta[];
  /** The soonest threshold the trend approaches, or null. */
  next: ThresholdEta | null;
}

export interface RoomAnalytics {
  vpd_band: [number, number];
  /** Share (0–1) of today's time the room's VPD was inside its band; null before two readings. */
  vpd_in_band_share: number | null;
  vpd_tracked_s: number;
  day: string;
}

/** What `analytics:update` carries and `analytics:latest` holds. */
export interface AnalyticsSnapshot {
  timestamp: string;
  sensors: Record<string, SensorAnalytics>;
  rooms: Record<string, RoomAnalytics>;
}

/** `0.8:1.2` → [0.8, 1.2]. */
export function parseBand(text: string): [number, number] {
  const [a, b] = text.split(/[:-]/).map(Number);
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || a >= b) {
    throw new ConfigError(`a band is LOW:HIGH with LOW < HIGH, got "${text}"`);
  }
  return [a, b];
}

export interface AnalyticsHandle extends ServiceHandle {
  readonly runtime: ServiceRuntime;
  /** Builds, stores and publishes a snapshot now. */
  publishNow(): Promise<AnalyticsSnapshot>;
}

interface SensorState {
  location: string;
  cluster: string;
  last: number;
  lastAt: number;
  m1: RollingWindow;
  h1: RollingWindow;
  trend: RollingWindow;
  today?: DailyExtremes;
}

/**
 * `canopy analytics`: rolling 1-minute and 1-hour statistics per sensor,
 * today's min/max, the trend (least-squares slope per hour) and when it
 * reaches each of the sensor's thresholds, and the share of today each
 * room's VPD spent in its target band; published on `analytics:update` and
 * kept in `analytics:latest` (with a TTL) and `analytics:daily:<day>` for the API.
 */
export async function start(config: Partial<AnalyticsConfig> = {}): Promise<AnalyticsHandle> {
  const c: AnalyticsConfig = {
    publishMs: 5000,
    vpdBands: { '*': [0.8, 1.2] },
    keyPrefix: ANALYTICS_PREFIX,
    dailyTtlDays: 35,
    latestTtlS: Math.max(60, Math.ceil((3 * (config.publishMs ?? 5000)) / 1000)),
    trendWindowMs: 3_600_000,
    trendMinPoints: 3,
    trendMinSpanMs: Math.min(300_000, (config.trendWindowMs ?? 3_600_000) / 4),
    etaHorizonS: 86_400,
    limits: [],
    devicesFile: defaultConfigFile('devices.yaml'),
    alertRulesFile: defaultConfigFile('alerts.yaml'),
    runtime: {},
    ...config,
  };
  if (!(c.publishMs > 0)) throw new ConfigError('publishMs must be > 0');
  for (const k of ['latestTtlS', 'trendWindowMs', 'trendMinPoints', 'etaHorizonS'] as const)
    if (!(Number.isFinite(c[k]) && c[k] > 0)) throw new ConfigError(`${k} must be a number > 0`);
  if (!(c.trendMinSpanMs >= 0 && c.trendMinSpanMs < c.trendWindowMs))
    throw new ConfigError('trendMinSpanMs must be >= 0 and shorter than trendWindowMs');
  const loadThresholds = (): ThresholdSpec[] => [
    ...c.limits,
    ...(c.devicesFile ? loadDeviceThresholds(c.devicesFile) : []),
    ...(c.alertRulesFile ? thresholdsFromAlertRules(loadAlertRules(c.alertRulesFile)) : []),
  ];
  let thresholds = loadThresholds();
  const counters = { readings: 0, published: 0, untracked: 0 };
  const rt = await startServiceRuntime({
    ...c.runtime,
    service: 'analytics',
    counters: () => ({ ...counters, thresholds: thresholds.length }),
    onReloadConfig: () => {
      thresholds = loadThresholds();
      return { thresholds: thresholds.length };
    },
  });
  const sensors = new Map<string, SensorState>();
  const rooms = new Map<string, BandTimer>();
  const bandOf = (loc: string): [number, number] => c.vpdBands[loc] ?? c.vpdBands['*'] ?? [0.8, 1.2];

  // today's extremes survive a restart
  try {
    const raw = await rt.conn.run('GET daily', (cl) => cl.get(`${c.keyPrefix}daily:${localDay(Date.now())}`));
    if (raw) {
      const d = JSON.parse(String(raw)) as {
        sensors?: Record<string, DailyExtremes & { location: string; cluster: string }>;
      };
      for (const [name, e] of Object.entries(d.sensors ?? {})) {
        sensors.set(name, {
          location: e.location,
          cluster: e.cluster,
          last: NaN,
          lastAt: 0,
          m1: new RollingWindow(60_000),
          h1: new RollingWindow(3_600_000),
          trend: new RollingWindow(c.trendWindowMs),
          today: { day: e.day, min: e.min, max: e.max, min_at: e.min_at, max_at: e.max_at },
        });
      }
    }
  } catch (err) {
    rt.log.warn({ err: (err as Error).message }, 'could not restore today’s extremes');
  }

  const onUpdate = (u: SensorUpdate) => {
    if (rt.paused) return;
    const ts = updateTime(u);
    const at = new Date(ts).toISOString();
    const day = localDay(ts);
    for (const [name, value] of readingsOf(u)) {
      counters.readings++;
      let s = sensors.get(name);
      if (!s) {
        s = {
          location: u.location,
          cluster: u.cluster,
          last: value,
          lastAt: ts,
          m1: new RollingWindow(60_000),
          h1: new RollingWindow(3_600_000),
          trend: new RollingWindow(c.trendWindowMs),
        };
        if (!setBounded(sensors, name, s, ANALYTICS_LIMITS.sensors)) {
          counters.untracked++;
          continue;
        }
      }
      s.location = u.location;
      s.cluster = u.cluster;
      s.last = value;
      s.lastAt = ts;
      s.m1.add(ts, value);
      s.h1.add(ts, value);
      s.trend.add(ts, value);
      const t = s.today;
      if (!t || t.day !== day) s.today = { day, min: value, max: value, min_at: at, max_at: at };
      else {
        if (value < t.min) Object.assign(t, { min: value, min_at: at });
        if (value > t.max) Object.assign(t, { max: value, max_at: at });
      }
      if (/^vpd(_|$)/.test(name)) {
        const [lo, hi] = bandOf(u.location);
        let timer = rooms.get(u.location);
        if (!timer) {
          timer = new BandTimer();
          if (!setBounded(rooms, u.location, timer, ANALYTICS_LIMITS.rooms)) {
            counters.untracked++;
            continue;
          }
        }
        timer.add(ts, value >= lo && value <= hi);
      }
    }
  };

  const snapshot = (): AnalyticsSnapshot => {
    const now = Date.now();
    const out: AnalyticsSnapshot = { timestamp: new Date(now).toISOString(), sensors: {}, rooms: {} };
    for (const [name, s] of sensors) {
      if (!s.today || s.lastAt === 0) continue;
      const trend = s.trend.trend(now, c.trendMinPoints, c.trendMinSpanMs);
      const specs = thresholdsOf(name, thresholds);
      if (/^vpd(_|$)/.test(name)) {
        const [lo, hi] = bandOf(s.location);
        specs.push(
          { sensor: name, name: 'vpd band low', value: lo, crossing: 'below', source: 'vpd-band' },
          { sensor: name, name: 'vpd band high', value: hi, crossing: 'above', source: 'vpd-band' },
        );
      }
      specs.sort((a, b) => a.value - b.value);
      const etas = specs.map((t) => estimate(t, s.last, s.lastAt, trend.slope_per_h, c.etaHorizonS));
      out.sensors[name] = {
        location: s.location,
        cluster: s.cluster,
        last: s.last,
        last_at: new Date(s.lastAt).toISOString(),
        m1: s.m1.stats(now),
        h1: s.h1.stats(now),
        today: s.today,
        trend: { window_s: Math.round(c.trendWindowMs / 1000), ...trend },
        thresholds: etas,
        next: nextOf(etas),
      };
    }
    for (const [loc, t] of rooms) {
      out.rooms[loc] = {
        vpd_band: bandOf(loc),
        vpd_in_band_share: t.share,
        vpd_tracked_s: Math.round(t.totalMs / 1000),
        day: t.day,
      };
    }
    return out;
  };

  const publishNow = async (): Promise<AnalyticsSnapshot> => {
    const snap = snapshot();
    const day = localDay(Date.now());
    const daily = {
      day,
      sensors: Object.fromEntries(
        [...sensors]
          .filter(([, s]) => s.today?.day === day)
          .map(([n, s]) => [n, { ...s.today, location: s.location, cluster: s.cluster }]),
      ),
      rooms: snap.rooms,
    };
    await rt.conn.run('SET analytics', (cl) =>
      cl
        .multi()
        .set(`${c.keyPrefix}latest`, JSON.stringify(snap), { EX: c.latestTtlS })
        .set(`${c.keyPrefix}daily:${day}`, JSON.stringify(daily), { EX: c.dailyTtlDays * 86_400 })
        .exec(),
    );
    await rt.publisher.publish(ANALYTICS_UPDATE, snap);
    counters.published++;
    return snap;
  };

  const subs: Subscription[] = [
    await rt.subscriber.subscribe<SensorUpdate>(SENSOR_UPDATE, onUpdate, { validate: checkSensorUpdate }),
  ];
  const timer = setInterval(() => {
    if (rt.paused || sensors.size === 0) return;
    publishNow().catch((err: unknown) => rt.log.warn({ err: (err as Error).message }, 'analytics publish failed'));
  }, c.publishMs);
  timer.unref();

  return {
    runtime: rt,
    publishNow,
    async stop() {
      rt.beginStop(); // without Redis, nothing below waits for it
      clearInterval(timer);
      for (const s of subs) await s.unsubscribe().catch(() => undefined);
      await rt.close();
    },
  };
}
