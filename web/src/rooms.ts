/**
 * The room cards (#rooms): each room leads with its status (colour and
 * word), the few values a grower acts on with their target or band, the
 * room's active alerts, lights and until when, grow cycle and energy;
 * secondary readings sit behind "More readings". The header (#summary)
 * counts rooms per status. Cards are built once and updated in place.
 */
import {
  bandText,
  fmt,
  KEY_WORD,
  RoomsFeed,
  STATUS_WORD,
  type KeyValue,
  type RoomReading,
  type RoomView,
} from './rooms-data.js';
import type { PanelContext, Role } from './shell.js';
import { el, formatAge } from './when.js';

const roomId = (r: { location: string; cluster: string }) => `${r.location}/${r.cluster}`;
const WHEN = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const DAY = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

/** One key value: label, large value with unit, band beside it, why. */
export function keyTile(k: KeyValue, cls = 'key'): HTMLElement {
  const box = el('div', cls);
  box.dataset.quantity = k.quantity;
  box.dataset.status = k.status;
  if (k.sensor) box.dataset.sensor = k.sensor;
  const dd = el('dd');
  const value = el('span', 'value');
  const unit = el('span', 'unit');
  const band = el('span', 'band');
  const why = el('span', 'why');
  dd.append(value, unit, band, why);
  box.append(el('dt', 'k-label', k.label), dd);
  updateKeyTile(box, k);
  return box;
}

export function updateKeyTile(box: HTMLElement, k: KeyValue): void {
  box.dataset.status = k.status;
  box.classList.toggle('stale', k.status === 'stale' || k.status === 'unknown');
  const [value, unit, band, why] = [...box.querySelector('dd')!.children] as HTMLElement[];
  if (k.quantity === 'lights') {
    value!.textContent = k.value === null ? '?' : k.value ? 'On' : 'Off';
    unit!.textContent = '';
    band!.textContent = '';
    why!.textContent = k.text?.replace(/^(on|off) ?/, '') ?? '';
    box.dataset.on = String(k.value === 1);
    return;
  }
  value!.textContent = fmt(k.value, k.decimals);
  unit!.textContent = k.unit;
  band!.textContent = bandText(k);
  why!.textContent =
    k.status === 'ok' ? '' : k.status === 'stale' ? `stale · ${KEY_WORD.stale}` : (k.text ?? KEY_WORD[k.status]);
  box.title = `${k.label}: ${KEY_WORD[k.status]}${k.sensor ? ` (sensor ${k.sensor})` : ''}`;
}

function readingRow(s: RoomReading, now: number): HTMLElement {
  const row = el('div', `reading${s.stale ? ' stale' : ''}`);
  row.dataset.sensor = s.name;
  row.title = s.name;
  const dd = el('dd');
  const decimals = s.base === 'co2' ? 0 : s.base === 'vpd' ? 2 : 1;
  dd.append(el('span', 'value', fmt(s.value, decimals)), el('span', 'unit', s.unit));
  dd.append(
    el('span', 'age', s.ts === null ? 'no data' : s.stale ? `stale · ${formatAge(now - s.ts)}` : formatAge(now - s.ts)),
  );
  row.append(el('dt', undefined, s.label), dd);
  return row;
}

interface Card {
  root: HTMLElement;
  chip: HTMLElement;
  cycle: HTMLElement;
  alerts: HTMLElement;
  keys: HTMLElement;
  energy: HTMLElement;
  more: HTMLDetailsElement;
  moreList: HTMLElement;
  edit: HTMLElement;
}

export class RoomCards {
  readonly #root: HTMLElement;
  readonly #ctx: PanelContext;
  readonly #cards = new Map<string, Card>();
  readonly #summary: HTMLElement | null;
  #role: Role = null;

  constructor(root: HTMLElement, ctx: PanelContext, summary: HTMLElement | null) {
    this.#root = root;
    this.#ctx = ctx;
    this.#summary = summary;
    root.replaceChildren(el('p', 'muted', 'Loading rooms…'));
  }

  set role(r: Role) {
    this.#role = r;
    // a location without stages has no cycle to set
    for (const c of this.#cards.values()) c.edit.hidden = r !== 'operator' || c.edit.dataset.stages === '0';
  }

  render(rooms: RoomView[], error?: string): void {
    if (error && rooms.length === 0) {
      this.#root.replaceChildren(el('p', 'muted', `Rooms could not be loaded: ${error}`));
      return;
    }
    if (this.#cards.size === 0) this.#root.replaceChildren();
    const now = Date.now();
    for (const r of rooms) {
      let c = this.#cards.get(roomId(r));
      if (!c) {
        c = this.#build(r);
        this.#cards.set(roomId(r), c);
        this.#root.append(c.root);
      }
      this.#update(c, r, now);
    }
    this.#root.dataset.outdated = String(Boolean(error));
    if (this.#summary) renderSummary(this.#summary, rooms);
  }

  #build(r: RoomView): Card {
    const root = el('article', 'card room');
    root.dataset.room = roomId(r);
    const head = el('header', 'room-head');
    const chip = el('span', 'chip');
    head.append(el('h2', undefined, r.label), chip);
    const cycle = el('p', 'cycle');
    const alerts = el('ul', 'room-alerts');
    const keys = el('dl', 'keys');
    const energy = el('p', 'energy muted');
    const more = el('details', 'more');
    const moreList = el('dl', 'readings');
    more.append(el('summary', undefined, 'More readings'), moreList);
    const edit = this.#cycleEditor(r);
    edit.dataset.stages = String(r.stages.length);
    edit.hidden = this.#role !== 'operator' || r.stages.length === 0;
    root.append(head, alerts, keys, cycle, edit, energy, more);
    return { root, chip, cycle, alerts, keys, energy, more, moreList, edit };
  }

  #update(c: Card, r: RoomView, now: number): void {
    c.root.dataset.status = r.status;
    c.chip.dataset.status = r.status;
    c.chip.textContent = STATUS_WORD[r.status];
    c.chip.setAttribute('aria-label', `room status: ${STATUS_WORD[r.status]}`);
    // key values: keep the tiles (trend arrows live in them), update their content
    const seen = new Set<string>();
    for (const k of r.key) {
      seen.add(k.quantity);
      const tile = c.keys.querySelector<HTMLElement>(`[data-quantity="${k.quantity}"]`);
      if (tile) updateKeyTile(tile, k);
      else c.keys.append(keyTile(k));
    }
    for (const t of c.keys.querySelectorAll<HTMLElement>('[data-quantity]'))
      if (!seen.has(t.dataset.quantity!)) t.remove();
    // alerts of the room
    c.alerts.replaceChildren(
      ...r.alerts.map((a) => {
        const li = el('li', 'room-alert');
        li.dataset.severity = a.severity;
        li.dataset.alert = a.id;
        const since = Date.parse(a.since);
        li.append(
          el('span', 'sev', a.severity === 'critical' ? 'Alarm' : 'Alert'),
          ` ${a.message}`,
          el('span', 'muted', Number.isFinite(since) ? ` · since ${WHEN.format(since)}` : ''),
        );
        if (a.acknowledged) li.append(el('span', 'muted', ` · acknowledged by ${a.acknowledged.by}`));
        return li;
      }),
    );
    c.alerts.hidden = r.alerts.length === 0;
    // stage and week/day
    const stage = r.cycle?.stage ?? r.stage;
    c.cycle.textContent = stage ? `${capital(stage)}${r.cycle ? ` · ${r.cycle.label}` : ''}` : '';
    c.cycle.hidden = !stage;
    // energy since the cycle start (or 7 days)
    if (r.energy && r.energy.kwh > 0) {
      const since = Date.parse(`${r.energy.since}T12:00:00Z`);
      const cost = r.energy.cost !== null ? ` · ${r.energy.cost.toFixed(2)} ${r.energy.currency ?? ''}`.trimEnd() : '';
      c.energy.textContent = `Energy ${r.energy.kwh.toFixed(1)} kWh${cost} since ${DAY.format(since)}`;
      c.energy.hidden = false;
    } else c.energy.hidden = true;
    // secondary readings: everything not already a key value
    const keySensors = new Set(r.key.map((k) => k.sensor).filter(Boolean));
    const rest = r.sensors.filter((s) => !keySensors.has(s.name));
    c.more.hidden = rest.length === 0;
    (c.more.firstElementChild as HTMLElement).textContent = `More readings (${rest.length})`;
    c.moreList.replaceChildren(...rest.map((s) => readingRow(s, now)));
  }

  #cycleEditor(r: RoomView): HTMLElement {
    const box = el('details', 'cycle-edit');
    box.append(el('summary', undefined, 'Set grow cycle'));
    const form = el('form', 'cycle-form');
    const stage = el('select');
    stage.name = 'stage';
    for (const s of r.stages) stage.add(new Option(capital(s), s, false, s === (r.cycle?.stage ?? r.stage)));
    const start = el('input');
    start.type = 'date';
    start.name = 'start';
    start.required = true;
    start.value = r.cycle?.start ?? new Date().toISOString().slice(0, 10);
    const save = el('button', undefined, 'Save');
    save.type = 'submit';
    const msg = el('span', 'form-msg', '');
    msg.setAttribute('role', 'status');
    const lbl = (text: string, input: HTMLElement) => {
      const l = el('label', undefined, `${text} `);
      l.append(input);
      return l;
    };
    form.append(lbl('Stage', stage), lbl('Started', start), save, msg);
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      msg.textContent = 'sending…';
      try {
        await this.#ctx.api.send('PUT', `/api/rooms/${encodeURIComponent(r.location)}/cycle`, {
          stage: stage.value,
          start: start.value,
        });
        msg.textContent = 'sent — the automation applies it';
      } catch (err) {
        msg.textContent = `refused: ${(err as Error).message}`;
      }
    };
    box.append(form);
    return box;
  }
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Header: how many rooms are in each status, worst first (a word and a count, not colour only). */
export function renderSummary(box: HTMLElement, rooms: RoomView[]): void {
  const order = ['alarm', 'attention', 'unknown', 'ok'] as const;
  box.replaceChildren(
    ...order.flatMap((s) => {
      const n = rooms.filter((r) => r.status === s).length;
      if (n === 0) return [];
      const chip = el('a', 'chip', `${n} ${STATUS_WORD[s]}`);
      chip.dataset.status = s;
      chip.href = '#rooms';
      return [chip];
    }),
  );
}

/** Panel mount: the room cards and the header summary, live. */
export function mountRooms(root: HTMLElement, ctx: PanelContext): { stop(): void } {
  const cards = new RoomCards(root, ctx, document.getElementById('summary'));
  const feed = new RoomsFeed(ctx);
  feed.onChange((rooms, error) => cards.render(rooms, error));
  const off = ctx.onRole((r) => (cards.role = r));
  feed.start();
  return {
    stop: () => {
      off();
      feed.stop();
    },
  };
}
