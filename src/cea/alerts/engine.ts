import { addBounded, setBounded } from '../../util/bounded.js';

/**
 * The alert rules, as a pure state machine: readings, device updates,
 * heartbeats and clock ticks go in; alert transitions come out. No I/O, so
 * every rule is testable with a scripted clock.
 */

/** One threshold rule on readings. */
export interface ThresholdRule {
  id: string;
  /** A sensor name or a glob (`dry_bulb_*`, `co2_?`). */
  sensor: string;
  /** Fires when the value stays above this … */
  above?: number;
  /** … or below this … */
  below?: number;
  /** … for at least this long (seconds of reading time). @defaultValue 0 */
  for_s?: number;
  /** Resolves only once the value is back this far inside the limit. @defaultValue 0 */
  hysteresis?: number;
  /** @defaultValue `warning` */
  severity?: string;
  /** Free text added to the message. */
  description?: string;
}

export interface AlertRulesConfig {
  rules: ThresholdRule[];
  /** A sensor that reported once and then not for this long is stale. 0 disables. @defaultValue 120 */
  stale_after_s: number;
  /** Sensors (names or globs) the stale rule watches. @defaultValue every sensor seen */
  stale_sensors: string[];
  /** Services whose vanished heartbeat (with no other live instance) is an alert. @defaultValue every service seen */
  watch_services: string[];
  /** An active alert is notified again this often. 0 disables. @defaultValue 3600 */
  reminder_interval_s: number;
  /** Severity of stale, service-down and failsafe alerts. @defaultValue `critical` */
  system_severity: string;
}

export const ALERT_RULES_DEFAULTS: AlertRulesConfig = {
  rules: [],
  stale_after_s: 120,
  stale_sensors: [],
  watch_services: [],
  reminder_interval_s: 3600,
  system_severity: 'critical',
};

/** An alert, as stored, published and notified. */
export interface Alert {
  /** Stable identity of the condition: `<rule>:<subject>`. */
  key: string;
  /** Rule id, or `stale`, `service-down`, `failsafe`. */
  rule: string;
  /** Sensor, service or device concerned. */
  subject: string;
  kind: 'threshold' | 'stale' | 'service' | 'failsafe';
  severity: string;
  message: string;
  /** Value that fired it (threshold rules). */
  value?: number;
  /** The limit it crossed and which way (threshold rules). */
  limit?: number;
  direction?: 'above' | 'below';
  /** ISO-8601 UTC. */
  started_at: string;
  resolved_at?: string;
  /** Store id, once stored. */
  id?: number;
  /** Who acknowledged it and when (ISO-8601 UTC): no more reminders until it resolves. */
  acknowledged?: { by: string; at: string };
}

export type AlertTransition = {
  type: 'fired' | 'reminder' | 'resolved' | 'acknowledged';
  alert: Alert;
  at: number;
};

interface ThresholdState {
  since?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** `*` any run, `?` one character; everything else literal. */
export function globMatch(glob: string, s: string): boolean {
  if (!/[*?]/.test(glob)) return glob === s;
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(s);
}

/** Checks a rules config; returns a list of problems (empty when valid). */
export function validateRules(cfg: AlertRulesConfig): string[] {
  const out: string[] = [];
  const ids = new Set<string>();
  for (const r of cfg.rules) {
    if (!r.id) out.push('a rule has no id');
    else if (ids.has(r.id)) out.push(`rule id ${r.id} is used twice`);
    ids.add(r.id);
    if (!r.sensor) out.push(`rule ${r.id}: sensor is required`);
    if (r.above === undefined && r.below === undefined) out.push(`rule ${r.id}: needs above or below`);
    for (const k of ['above', 'below', 'for_s', 'hysteresis'] as const) {
      if (r[k] !== undefined && !Number.isFinite(r[k])) out.push(`rule ${r.id}: ${k} must be a number`);
    }
    if ((r.for_s ?? 0) < 0 || (r.hysteresis ?? 0) < 0) out.push(`rule ${r.id}: for_s and hysteresis must be >= 0`);
  }
  for (const k of ['stale_after_s', 'reminder_interval_s'] as const) {
    if (!(cfg[k] >= 0)) out.push(`${k} must be >= 0`);
  }
  return out;
}

/**
 * Caps on what outside input can make the engine remember (sensor names from
 * sensor:update, services and instances from heartbeats): a name beyond them
 * is not tracked, and counted in {@link AlertEngine.untracked}.
 */
export const ALERT_ENGINE_LIMITS = { sensors: 10_000, services: 256, instancesPerService: 1024 };

export class AlertEngine {
  #cfg: AlertRulesConfig;
  /** Sensor names, services or instances not tracked because a cap of {@link ALERT_ENGINE_LIMITS} was reached. */
  untracked = 0;
  readonly #active = new Map<string, Alert & { notified_at: number }>();
  readonly #threshold = new Map<string, ThresholdState>();
  readonly #lastReading = new Map<string, number>();
  readonly #liveByService = new Map<string, Set<string>>();

  constructor(cfg: Partial<AlertRulesConfig> = {}) {
    this.#cfg = { ...ALERT_RULES_DEFAULTS, ...cfg };
  }

  get config(): AlertRulesConfig {
    return this.#cfg;
  }

  /** New rules; active alerts whose rule is gone are resolved at the next reading or tick. */
  setConfig(cfg: Partial<AlertRulesConfig>): void {
    this.#cfg = { ...ALERT_RULES_DEFAULTS, ...cfg };
  }

  /** The alerts active now. */
  active(): Alert[] {
    return [...this.#active.values()].map(({ notified_at: _n, ...a }) => a);
  }

  /** Restores alerts that were active before a restart (no new notification for them). */
  restore(alerts: Alert[], now: number): void {
    for (const a of alerts) this.#active.set(a.key, { ...a, notified_at: now });
  }

  /**
   * An operator acknowledged the alert `key` that started at `since` (ISO):
   * it stays active, without reminders, until it resolves. An alert that is
   * not active, started at another time (an earlier firing of the same
   * condition) or is acknowledged already gives no transition.
   */
  acknowledge(key: string, since: string, by: string, at: number): AlertTransition[] {
    const a = this.#active.get(key);
    if (!a || a.started_at !== since || a.acknowledged) return [];
    a.acknowledged = { by, at: iso(at) };
    return [{ type: 'acknowledged', alert: this.#public(a), at }];
  }

  /** A reading with its own timestamp (ms). */
  reading(sensor: string, value: number, ts: number): AlertTransition[] {
    const out: AlertTransition[] = [];
    if (!setBounded(this.#lastReading, sensor, ts, ALERT_ENGINE_LIMITS.sensors)) {
      this.untracked++;
      return out;
    }
    const stale = this.#active.get(`stale:${sensor}`);
    if (stale) out.push(this.#resolve(stale.key, ts, `${sensor} reports again`));
    for (const r of this.#cfg.rules) {
      if (!globMatch(r.sensor, sensor)) continue;
      const key = `${r.id}:${sensor}`;
      const st = this.#threshold.get(key) ?? {};
      this.#threshold.set(key, st);
      const over = r.above !== undefined && value > r.above;
      const under = r.below !== undefined && value < r.below;
      const active = this.#active.get(key);
      if (active) {
        const h = r.hysteresis ?? 0;
        const clear =
          (r.above === undefined || value <= r.above - h) && (r.below === undefined || value >= r.below + h);
        if (clear) {
          st.since = undefined;
          out.push(this.#resolve(key, ts, `${sensor} is back to ${value}`));
        }
        continue;
      }
      if (!over && !under) {
        st.since = undefined;
        continue;
      }
      st.since ??= ts;
      if (ts - st.since >= (r.for_s ?? 0) * 1000) {
        const limit = over ? `above ${r.above}` : `below ${r.below}`;
        const dur = r.for_s ? ` for ${r.for_s} s` : '';
        out.push(
          this.#fire(
            {
              key,
              rule: r.id,
              subject: sensor,
              kind: 'threshold',
              severity: r.severity ?? 'warning',
              message: `${sensor} is ${value}, ${limit}${dur}${r.description ? ` (${r.description})` : ''}`,
              value,
              limit: (over ? r.above : r.below) as number,
              direction: over ? 'above' : 'below',
              started_at: iso(ts),
            },
            ts,
          ),
        );
      }
    }
    return out;
  }

  /** A device update; `failsafe` says whether the device is in its failsafe state. */
  device(device: string, failsafe: boolean, reason: string | undefined, ts: number): AlertTransition[] {
    const key = `failsafe:${device}`;
    const active = this.#active.get(key);
    if (failsafe && !active) {
      return [
        this.#fire(
          {
            key,
            rule: 'failsafe',
            subject: device,
            kind: 'failsafe',
            severity: this.#cfg.system_severity,
            message: `${device} is in its failsafe state${reason ? `: ${reason}` : ''}`,
            started_at: iso(ts),
          },
          ts,
        ),
      ];
    }
    if (!failsafe && active) return [this.#resolve(key, ts, `${device} left its failsafe state`)];
    return [];
  }

  /** A heartbeat appeared. */
  serviceUp(service: string, instance: string, now: number): AlertTransition[] {
    const set = this.#liveByService.get(service) ?? new Set<string>();
    if (
      !addBounded(set, instance, ALERT_ENGINE_LIMITS.instancesPerService) ||
      !setBounded(this.#liveByService, service, set, ALERT_ENGINE_LIMITS.services)
    )
      this.untracked++;
    const key = `service-down:${service}`;
    return this.#active.has(key) ? [this.#resolve(key, now, `${service} is running again (${instance})`)] : [];
  }

  /** A heartbeat vanished; fires when no other instance of the service is live. */
  serviceGone(service: string, instance: string, now: number): AlertTransition[] {
    const set = this.#liveByService.get(service);
    set?.delete(instance);
    const watched = this.#cfg.watch_services;
    if ((set && set.size > 0) || (watched.length > 0 && !watched.includes(service))) return [];
    const key = `service-down:${service}`;
    if (this.#active.has(key)) return [];
    return [
      this.#fire(
        {
          key,
          rule: 'service-down',
          subject: service,
          kind: 'service',
          severity: this.#cfg.system_severity,
          message: `${service} stopped: the heartbeat of ${instance} vanished and no other instance is running`,
          started_at: iso(now),
        },
        now,
      ),
    ];
  }

  /** Stale sensors and reminders, at wall-clock time `now`. */
  tick(now: number): AlertTransition[] {
    const out: AlertTransition[] = [];
    const c = this.#cfg;
    if (c.stale_after_s > 0) {
      for (const [sensor, last] of this.#lastReading) {
        if (c.stale_sensors.length > 0 && !c.stale_sensors.some((g) => globMatch(g, sensor))) continue;
        const key = `stale:${sensor}`;
        if (now - last > c.stale_after_s * 1000 && !this.#active.has(key)) {
          out.push(
            this.#fire(
              {
                key,
                rule: 'stale',
                subject: sensor,
                kind: 'stale',
                severity: c.system_severity,
                message: `${sensor} has not reported for ${Math.round((now - last) / 1000)} s (limit ${c.stale_after_s} s)`,
                started_at: iso(now),
              },
              now,
            ),
          );
        }
      }
    }
    for (const a of this.#active.values()) {
      if (a.kind === 'threshold' && !c.rules.some((r) => r.id === a.rule)) {
        out.push(this.#resolve(a.key, now, `rule ${a.rule} was removed`));
        continue;
      }
      if (!a.acknowledged && c.reminder_interval_s > 0 && now - a.notified_at >= c.reminder_interval_s * 1000) {
        a.notified_at = now;
        out.push({ type: 'reminder', alert: this.#public(a), at: now });
      }
    }
    return out;
  }

  #fire(a: Alert, at: number): AlertTransition {
    this.#active.set(a.key, { ...a, notified_at: at });
    return { type: 'fired', alert: a, at };
  }

  #resolve(key: string, at: number, why: string): AlertTransition {
    const a = this.#active.get(key) as Alert & { notified_at: number };
    this.#active.delete(key);
    const resolved = { ...this.#public(a), resolved_at: iso(at), message: `${a.message} (resolved: ${why})` };
    return { type: 'resolved', alert: resolved, at };
  }

  #public(a: Alert & { notified_at: number }): Alert {
    const { notified_at: _n, ...rest } = a;
    return rest;
  }
}
