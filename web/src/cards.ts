import type { Device, Sensor } from './api.js';

/** Order and labels of a room card's rows. */
const KIND_LABEL: Record<string, string> = {
  dry_bulb: 'Dry bulb',
  wet_bulb: 'Wet bulb',
  rh: 'RH',
  vpd: 'VPD',
  co2: 'CO₂',
  pressure: 'Pressure',
  secondary_temp: 'SCD30 temp',
  secondary_rh: 'SCD30 RH',
  lab_temp: 'Lab',
  water_temp: 'Water',
};
const KIND_ORDER = Object.keys(KIND_LABEL);
const DECIMALS: Record<string, number> = { co2: 0, pressure: 1, vpd: 2 };

export interface LiveValue {
  value: number;
  ts: number;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function formatAge(ms: number): string {
  if (ms < 1000) return 'now';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export function roomKey(location: string, cluster: string): string {
  return `${location}\u0000${cluster}`;
}

/**
 * One card per (location, cluster): a row per sensor with its value, unit
 * and age; a row is marked stale when its value is missing or too old.
 */
export class RoomCards {
  readonly #rows = new Map<string, { row: HTMLElement; value: HTMLElement; age: HTMLElement; sensor: Sensor }>();
  readonly #devices = new Map<string, HTMLElement>();
  readonly #live = new Map<string, LiveValue>();
  staleAfterMs = 5000;

  constructor(root: HTMLElement, sensors: Sensor[]) {
    root.replaceChildren();
    const rooms = new Map<string, Sensor[]>();
    for (const s of sensors) {
      const k = roomKey(s.location, s.cluster);
      rooms.set(k, [...(rooms.get(k) ?? []), s]);
    }
    for (const [key, list] of rooms) {
      const first = list[0]!;
      const card = el('article', 'card');
      card.dataset.room = key.replace('\u0000', '/');
      const h = el('h2', undefined, first.location);
      h.append(' ', el('span', 'cluster', first.cluster));
      card.append(h);
      const table = el('dl', 'readings');
      list.sort((a, b) => rank(a.base) - rank(b.base) || a.name.localeCompare(b.name));
      for (const s of list) {
        const row = el('div', `reading stale base-${s.base}${secondary(s.base) ? ' secondary' : ''}`);
        row.dataset.sensor = s.name;
        row.title = s.name;
        const value = el('span', 'value', '—');
        const age = el('span', 'age', 'no data');
        const dd = el('dd');
        dd.append(value, el('span', 'unit', s.unit), age);
        row.append(el('dt', undefined, KIND_LABEL[s.base] ?? s.name), dd);
        table.append(row);
        this.#rows.set(s.name, { row, value, age, sensor: s });
      }
      card.append(table);
      const devs = el('ul', 'card-devices');
      card.append(devs);
      this.#devices.set(key, devs);
      root.append(card);
    }
  }

  /** Records a value (only if newer than what is shown). */
  set(name: string, value: number, ts: number): void {
    const cur = this.#live.get(name);
    if (cur && cur.ts > ts) return;
    this.#live.set(name, { value, ts });
    const r = this.#rows.get(name);
    if (!r) return;
    const d = DECIMALS[r.sensor.base] ?? 1;
    r.value.textContent = value.toFixed(d);
    this.#refreshRow(name, Date.now());
  }

  /** Re-computes every age and stale mark (called every second). */
  tick(now = Date.now()): void {
    for (const name of this.#rows.keys()) this.#refreshRow(name, now);
  }

  /** Shows device states on their room's card (read-only). */
  devices(list: Device[]): void {
    const byRoom = new Map<string, Device[]>();
    for (const d of list) {
      const k = roomKey(d.location, d.cluster);
      byRoom.set(k, [...(byRoom.get(k) ?? []), d]);
    }
    for (const [key, ul] of this.#devices) {
      ul.replaceChildren(
        ...(byRoom.get(key) ?? []).map((d) => {
          const li = el('li', d.state ? 'on' : 'off');
          li.dataset.device = d.device;
          li.append(
            el('span', 'dev-name', d.device),
            el('span', 'dev-state', d.state ? 'ON' : 'OFF'),
            el('span', 'dev-mode', d.mode),
          );
          return li;
        }),
      );
    }
  }

  #refreshRow(name: string, now: number): void {
    const r = this.#rows.get(name);
    const v = this.#live.get(name);
    if (!r) return;
    if (!v) {
      r.row.classList.add('stale');
      return;
    }
    const age = Math.max(0, now - v.ts);
    const stale = age > this.staleAfterMs;
    r.row.classList.toggle('stale', stale);
    r.age.textContent = stale ? `stale · ${formatAge(age)}` : formatAge(age);
  }
}

function rank(kind: string): number {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

function secondary(kind: string): boolean {
  return kind.startsWith('secondary_');
}
