/** GET /api/rooms as the room cards and the kiosk read it, kept fresh from the live channel. */
import type { PanelContext } from './shell.js';

export type RoomStatus = 'ok' | 'attention' | 'alarm' | 'unknown';
export type KeyStatus = 'ok' | 'attention' | 'alarm' | 'stale' | 'unknown';

export interface KeyValue {
  quantity: 'temperature' | 'rh' | 'vpd_air' | 'vpd_leaf' | 'co2' | 'lights';
  sensor?: string;
  label: string;
  unit: string;
  value: number | null;
  ts: number | null;
  stale: boolean;
  target?: number;
  low?: number;
  high?: number;
  alarmLow?: number;
  alarmHigh?: number;
  status: KeyStatus;
  text?: string;
  decimals: number;
}

export interface RoomAlert {
  id: string;
  severity: string;
  message: string;
  since: string;
  acknowledged?: { by: string; at: string };
}

export interface RoomReading {
  name: string;
  label: string;
  base: string;
  unit: string;
  value: number | null;
  ts: number | null;
  stale: boolean;
}

export interface RoomView {
  location: string;
  cluster: string;
  label: string;
  status: RoomStatus;
  stage: string | null;
  stages: string[];
  cycle: { stage: string; start: string; week: number; day: number; label: string } | null;
  key: KeyValue[];
  alerts: RoomAlert[];
  sensors: RoomReading[];
  energy: { since: string; kwh: number; cost: number | null; currency: string | null } | null;
}

export const STATUS_WORD: Record<RoomStatus, string> = {
  ok: 'OK',
  attention: 'Attention',
  alarm: 'Alarm',
  unknown: 'No data',
};
export const KEY_WORD: Record<KeyStatus, string> = {
  ok: 'in range',
  attention: 'out of range',
  alarm: 'alarm',
  stale: 'stale',
  unknown: 'no data',
};

/** `25.0`, `64.2`, `1200` — the digits the API asks for. */
export function fmt(v: number | undefined | null, decimals: number): string {
  return v === undefined || v === null || !Number.isFinite(v) ? '—' : v.toFixed(decimals);
}

/** "target 25.0 · 23.0–27.0" — what the value is judged against. */
export function bandText(k: KeyValue): string {
  const d = k.decimals;
  const parts: string[] = [];
  if (k.target !== undefined) parts.push(`target ${fmt(k.target, d)}`);
  if (k.low !== undefined && k.high !== undefined) parts.push(`${fmt(k.low, d)}–${fmt(k.high, d)}`);
  else if (k.high !== undefined) parts.push(`≤ ${fmt(k.high, d)}`);
  else if (k.low !== undefined) parts.push(`≥ ${fmt(k.low, d)}`);
  else if (k.alarmHigh !== undefined) parts.push(`alarm > ${fmt(k.alarmHigh, d)}`);
  return parts.join(' · ');
}

/**
 * Loads the rooms, then again on every live sensor, device or alert
 * message (at most once a second) and every 10 s (ages and staleness).
 */
export class RoomsFeed {
  readonly #ctx: PanelContext;
  readonly #listeners = new Set<(rooms: RoomView[], error?: string) => void>();
  readonly #offs: (() => void)[] = [];
  #timer: number | undefined;
  #soon: number | undefined;
  #inflight = false;
  #again = false;
  rooms: RoomView[] = [];

  constructor(ctx: PanelContext) {
    this.#ctx = ctx;
  }

  start(): this {
    this.#offs.splice(0).forEach((off) => off());
    window.clearInterval(this.#timer);
    for (const type of ['sensor', 'device', 'alert', 'hello'])
      this.#offs.push(this.#ctx.live.on(type, () => this.soon()));
    this.#timer = window.setInterval(() => void this.refresh(), 10_000);
    void this.refresh();
    return this;
  }

  stop(): void {
    window.clearInterval(this.#timer);
    window.clearTimeout(this.#soon);
    this.#offs.splice(0).forEach((off) => off());
  }

  onChange(fn: (rooms: RoomView[], error?: string) => void): () => void {
    this.#listeners.add(fn);
    return () => void this.#listeners.delete(fn);
  }

  /** A refresh within a second (messages in a burst make one request). */
  soon(): void {
    if (this.#soon !== undefined) return;
    this.#soon = window.setTimeout(() => {
      this.#soon = undefined;
      void this.refresh();
    }, 300);
  }

  async refresh(): Promise<void> {
    if (this.#inflight) {
      this.#again = true;
      return;
    }
    this.#inflight = true;
    try {
      const r = await this.#ctx.api.get<{ rooms: RoomView[] }>('/api/rooms');
      this.rooms = r.rooms;
      for (const fn of this.#listeners) fn(this.rooms);
    } catch (err) {
      for (const fn of this.#listeners) fn(this.rooms, (err as Error).message);
    } finally {
      this.#inflight = false;
      if (this.#again) {
        this.#again = false;
        this.soon();
      }
    }
  }
}
