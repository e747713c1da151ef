import { Type, type Static } from '@sinclair/typebox';
import type { SensorInfo } from './catalogue.js';

/**
 * How the API shows an alert of `canopy alerts` (src/cea/alerts/engine.ts):
 * its key becomes `id`, `started_at` becomes `since`, and an alert about a
 * sensor or device of a room carries that room's location and cluster.
 */

export const ApiAlertSchema = Type.Object({
  id: Type.String({ description: 'stable identity of the condition: `<rule>:<subject>` (URL-encode it in paths)' }),
  rule: Type.String({ description: 'rule id, or stale, service-down, failsafe' }),
  kind: Type.String({ description: 'threshold, stale, service or failsafe' }),
  severity: Type.String(),
  message: Type.String(),
  subject: Type.String({ description: 'the sensor, service or device concerned' }),
  label: Type.String({ description: 'friendly name of the subject (its configured label, else its name)' }),
  text: Type.String({
    description:
      "what happened in a grower's words, e.g. `Temperature 34.5 °C — above 30 °C` (message keeps the internal names)",
  }),
  since: Type.String({ description: 'ISO-8601 UTC: when it fired' }),
  location: Type.Optional(Type.String()),
  cluster: Type.Optional(Type.String()),
  sensor: Type.Optional(Type.String()),
  device: Type.Optional(Type.String()),
  service: Type.Optional(Type.String()),
  value: Type.Optional(Type.Number({ description: 'the reading that fired a threshold rule' })),
  limit: Type.Optional(Type.Number({ description: 'the limit it crossed (threshold rules)' })),
  direction: Type.Optional(Type.Union([Type.Literal('above'), Type.Literal('below')])),
  unit: Type.Optional(Type.String({ description: 'unit of value and limit' })),
  resolved_at: Type.Optional(Type.String()),
  acknowledged: Type.Optional(Type.Object({ by: Type.String(), at: Type.String() })),
});
export type ApiAlert = Static<typeof ApiAlertSchema>;

export const ApiTransitionSchema = Type.Object({
  type: Type.String({ description: 'fired, reminder, acknowledged or resolved' }),
  at: Type.String({ description: 'ISO-8601 UTC' }),
  alert: ApiAlertSchema,
});
export type ApiTransition = Static<typeof ApiTransitionSchema>;

export const AlertsResponseSchema = Type.Object({
  active: Type.Array(ApiAlertSchema, { description: 'firing and not acknowledged, newest first' }),
  acknowledged: Type.Array(ApiAlertSchema, { description: 'firing, acknowledged by an operator' }),
  history: Type.Array(ApiTransitionSchema, { description: 'recent transitions, newest first' }),
});
export type AlertsResponse = Static<typeof AlertsResponseSchema>;

const num = (v: number) => String(Math.round(v * 100) / 100);

/** What happened, in a grower's words: `Temperature 34.5 °C — above 30 °C`, `worker service stopped`. */
export function alertText(a: Omit<ApiAlert, 'text'>): string {
  const unit = a.unit ? ` ${a.unit}` : '';
  switch (a.kind) {
    case 'threshold':
      return a.value !== undefined && a.limit !== undefined && a.direction
        ? `${a.label} ${num(a.value)}${unit} — ${a.direction} ${num(a.limit)}${unit}`
        : `${a.label} out of range`;
    case 'stale':
      return `${a.label} stopped reporting`;
    case 'service':
      return `${a.label} service stopped`;
    case 'failsafe':
      return `${a.label} is in its failsafe state`;
    default:
      return a.message;
  }
}

/** Where a sensor or device is, and its friendly name when configured. */
export interface Place {
  location: string;
  cluster: string;
  label?: string | undefined;
}

/** Finds the room of an alert's subject: sensors from the catalogue, devices from the devices file. */
export class AlertPlaces {
  readonly #sensors: Map<string, SensorInfo>;
  readonly #devices: Map<string, Place>;
  constructor(sensors: Map<string, SensorInfo>, devices: Map<string, Place>) {
    this.#sensors = sensors;
    this.#devices = devices;
  }

  /** The API form of a stored alert; undefined when it is not one (counted by the caller). */
  view(raw: unknown): ApiAlert | undefined {
    if (typeof raw !== 'object' || raw === null) return undefined;
    const a = raw as Record<string, unknown>;
    const str = (k: string) => (typeof a[k] === 'string' ? a[k] : undefined);
    const key = str('key');
    const since = str('started_at');
    if (!key || !since) return undefined;
    const subject = str('subject') ?? '';
    const kind = str('kind') ?? 'threshold';
    const out: ApiAlert = {
      id: key,
      rule: str('rule') ?? '',
      kind,
      severity: str('severity') ?? 'warning',
      message: str('message') ?? '',
      subject,
      label: subject,
      text: '',
      since,
    };
    if (kind === 'service') out.service = subject;
    else if (kind === 'failsafe') {
      out.device = subject;
      const d = this.#devices.get(subject);
      if (d) Object.assign(out, { location: d.location, cluster: d.cluster, label: d.label || subject });
    } else {
      out.sensor = subject;
      const s = this.#sensors.get(subject) as (SensorInfo & { label?: string }) | undefined;
      if (s) Object.assign(out, { location: s.location, cluster: s.cluster, unit: s.unit, label: s.label || subject });
    }
    for (const k of ['value', 'limit'] as const) {
      const v = a[k];
      if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    }
    if (a.direction === 'above' || a.direction === 'below') out.direction = a.direction;
    out.text = alertText(out);
    const resolved = str('resolved_at');
    if (resolved) out.resolved_at = resolved;
    const ack = a.acknowledged as Record<string, unknown> | undefined;
    if (ack && typeof ack.by === 'string' && typeof ack.at === 'string') out.acknowledged = { by: ack.by, at: ack.at };
    return out;
  }

  /** A stored transition `{type, at, alert}`; undefined when it is not one. */
  transition(raw: unknown): ApiTransition | undefined {
    if (typeof raw !== 'object' || raw === null) return undefined;
    const t = raw as Record<string, unknown>;
    const alert = this.view(t.alert);
    if (!alert || typeof t.type !== 'string') return undefined;
    const at = typeof t.at === 'string' ? t.at : typeof t.at === 'number' ? new Date(t.at).toISOString() : alert.since;
    return { type: t.type, at, alert };
  }

  /** `alerts:active` and `alerts:recent` (JSON text or null) as the API answers them. */
  response(activeText: string | null, recentText: string | null): AlertsResponse & { bad: number } {
    let bad = 0;
    const list = (text: string | null): unknown[] => {
      if (!text) return [];
      try {
        const v = JSON.parse(text) as unknown;
        return Array.isArray(v) ? v : [];
      } catch {
        bad++;
        return [];
      }
    };
    const active: ApiAlert[] = [];
    const acknowledged: ApiAlert[] = [];
    for (const r of list(activeText)) {
      const a = this.view(r);
      if (!a) bad++;
      else (a.acknowledged ? acknowledged : active).push(a);
    }
    const newest = (x: ApiAlert, y: ApiAlert) => y.since.localeCompare(x.since);
    active.sort(newest);
    acknowledged.sort(newest);
    const history: ApiTransition[] = [];
    for (const r of list(recentText)) {
      const t = this.transition(r);
      if (!t) bad++;
      else history.push(t);
    }
    return { active, acknowledged, history, bad };
  }
}
