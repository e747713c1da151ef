/**
 * Schedules and rules editor (operator token): lists lighting and setpoint
 * schedules and rules per room, edits on/off times and setpoint values,
 * adds and deletes rules. Changes go to PUT/POST/DELETE /api/schedules and
 * /api/rules; the automation applies them without a restart. Validation
 * errors are shown next to the field they name. Hidden without an operator
 * token (GET says `canEdit`).
 */
import { storedToken } from './api.js';

interface Row {
  id: string;
  config: Record<string, unknown>;
  enabled: boolean;
  by: string | null;
}
interface Problem {
  field: string;
  message: string;
}
type Kind = 'schedules' | 'rules';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, unknown> = {},
  ...kids: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e: HTMLElementTagNameMap[K] = document.createElement(tag);
  Object.assign(e, props);
  e.append(...kids);
  return e;
}

const auth = (): Record<string, string> => {
  const t = storedToken();
  return t ? { authorization: `Bearer ${t}` } : {};
};

async function list(kind: Kind): Promise<{ rows: Row[]; canEdit: boolean; rooms: Record<string, string> }> {
  const res = await fetch(`/api/${kind}`, { headers: { accept: 'application/json', ...auth() } });
  if (!res.ok) return { rows: [], canEdit: false, rooms: {} };
  const body = (await res.json()) as Record<string, unknown>;
  const rooms = (body.rooms as Record<string, string> | undefined) ?? {};
  return { rows: (body[kind] as Row[]) ?? [], canEdit: body.canEdit === true, rooms };
}

/** Sends a change; resolves with the problems of a refusal (empty: accepted). */
async function change(method: 'PUT' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<Problem[]> {
  const res = await fetch(url, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...auth() },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.ok) return [];
  const b = (await res.json().catch(() => ({}))) as { problems?: Problem[]; message?: string };
  return b.problems?.length ? b.problems : [{ field: '', message: b.message ?? `${res.status} ${res.statusText}` }];
}

/** An input with an error slot after it, keyed by the config field it edits (`/on`, `/periods/0/value`). */
class Form {
  readonly fields = new Map<string, HTMLInputElement | HTMLSelectElement>();
  readonly errors = new Map<string, HTMLElement>();
  readonly general = el('span', { className: 'field-error', role: 'alert' });

  field(pointer: string, input: HTMLInputElement | HTMLSelectElement, label: string): HTMLElement {
    input.dataset.field = pointer;
    input.setAttribute('aria-label', label);
    this.fields.set(pointer, input);
    const err = el('span', { className: 'field-error', role: 'alert' });
    err.dataset.errorFor = pointer;
    this.errors.set(pointer, err);
    return el('span', { className: 'field' }, input, err);
  }

  show(problems: Problem[]): void {
    for (const e of [...this.errors.values(), this.general]) e.textContent = '';
    for (const p of problems) {
      const slot = this.errors.get(p.field) ?? this.general;
      slot.textContent = (slot.textContent ? slot.textContent + '; ' : '') + p.message;
    }
  }
}

const input = (type: string, value: string | number, extra: Record<string, unknown> = {}) =>
  el('input', { type, value: String(value), ...extra });

const num = (v: string) => (v.trim() === '' ? NaN : Number(v));

export class ScheduleEditor {
  readonly #root: HTMLElement;
  /** device → room. */
  #rooms = new Map<string, string>();

  constructor(root: HTMLElement) {
    this.#root = root;
  }

  async refresh(): Promise<void> {
    if (!storedToken()) {
      // no token: nothing to edit, and no request the server would refuse
      this.#root.hidden = true;
      return this.#root.replaceChildren();
    }
    const [s, r] = await Promise.all([list('schedules'), list('rules')]);
    this.#root.hidden = !(s.canEdit && r.canEdit);
    if (this.#root.hidden) return this.#root.replaceChildren();
    this.#rooms = new Map(Object.entries(s.rooms));
    const byRoom = new Map<string, HTMLElement[]>();
    const put = (room: string, e: HTMLElement) => byRoom.set(room, [...(byRoom.get(room) ?? []), e]);
    for (const row of s.rows) put(this.#roomOf(row.config), this.#schedule(row));
    for (const row of r.rows) put(this.#roomOf(row.config), this.#rule(row, false));
    const rooms = [...byRoom.keys()].sort();
    this.#root.replaceChildren(
      el('h2', {}, 'Schedules and rules'),
      el('p', { className: 'muted' }, 'Changes apply at once (no restart); safety limits always hold.'),
      ...rooms.flatMap((room) => [el('h3', {}, room), ...byRoom.get(room)!]),
      el('h3', {}, 'Add a rule'),
      this.#rule({ id: '', config: { forMin: 5, state: 1 }, enabled: true, by: null }, true),
    );
  }

  #roomOf(c: Record<string, unknown>): string {
    const device = typeof c.device === 'string' ? c.device : undefined;
    if (device) return this.#rooms.get(device) ?? 'Other';
    return typeof c.location === 'string' ? c.location : 'Every room';
  }

  #schedule(row: Row): HTMLElement {
    const c = row.config;
    const f = new Form();
    const box = el('div', { className: 'schedule' });
    box.dataset.schedule = row.id;
    const save = el('button', { type: 'button', textContent: 'Save' });
    if (c.type === 'lighting') {
      const on = input('time', String(c.on));
      const off = input('time', String(c.off));
      box.append(
        el('span', {}, `${String(c.device)}: lights on `),
        f.field('/on', on, `${String(c.device)} on time`),
        ' off ',
        f.field('/off', off, `${String(c.device)} off time`),
      );
      save.onclick = async () =>
        f.show(await change('PUT', `/api/schedules/${row.id}`, { config: { ...c, on: on.value, off: off.value } }));
    } else {
      const periods = (c.periods as { from: string; value: number }[] | undefined) ?? [];
      const stages = Object.entries((c.stages as Record<string, number> | undefined) ?? {});
      const inputs = periods.map((p) => [input('time', p.from), input('number', p.value, { step: 'any' })] as const);
      const stageInputs = stages.map(([st, v]) => [st, input('number', v, { step: 'any' })] as const);
      box.append(el('span', {}, `${String(c.setpoint)}: `));
      inputs.forEach(([from, value], i) =>
        box.append(
          ' from ',
          f.field(`/periods/${i}/from`, from, `period ${i + 1} start`),
          ' ',
          f.field(`/periods/${i}/value`, value, `period ${i + 1} value`),
        ),
      );
      for (const [st, value] of stageInputs) box.append(` ${st} `, f.field(`/stages/${st}`, value, `${st} value`));
      save.onclick = async () => {
        const config = { ...c };
        if (inputs.length)
          config.periods = inputs.map(([from, value]) => ({ from: from.value, value: num(value.value) }));
        if (stageInputs.length) config.stages = Object.fromEntries(stageInputs.map(([st, v]) => [st, num(v.value)]));
        f.show(await change('PUT', `/api/schedules/${row.id}`, { config }));
      };
    }
    box.append(' ', save, f.general);
    return box;
  }

  #rule(row: Row, adding: boolean): HTMLElement {
    const c = row.config;
    const f = new Form();
    const box = el('div', { className: 'rule' });
    box.dataset.rule = adding ? 'new' : row.id;
    const sensor = input('text', String(c.sensor ?? ''), { placeholder: 'sensor', size: 12 });
    const dir = el('select');
    dir.add(new Option('above', 'above', false, c.below === undefined));
    dir.add(new Option('below', 'below', false, c.below !== undefined));
    const threshold = input('number', (c.above ?? c.below ?? '') as string, { step: 'any', size: 6 });
    const forMin = input('number', String(c.forMin ?? 5), { min: '0', step: 'any', size: 4 });
    const device = input('text', String(c.device ?? ''), { placeholder: 'device', size: 12 });
    const state = el('select');
    state.add(new Option('on', '1', false, c.state !== 0));
    state.add(new Option('off', '0', false, c.state === 0));
    box.append(
      'if ',
      f.field('/sensor', sensor, 'rule sensor'),
      ' ',
      dir,
      ' ',
      f.field('/above', threshold, 'rule threshold'),
      ' for ',
      f.field('/forMin', forMin, 'minutes'),
      ' min then ',
      f.field('/device', device, 'rule device'),
      ' ',
      f.field('/state', state, 'rule action'),
    );
    const config = () => ({
      sensor: sensor.value.trim(),
      [dir.value]: num(threshold.value),
      forMin: num(forMin.value),
      device: device.value.trim(),
      state: Number(state.value),
    });
    const show = (p: Problem[]) => f.show(p.map((x) => (x.field === '/below' ? { ...x, field: '/above' } : x)));
    const save = el('button', { type: 'button', textContent: adding ? 'Add rule' : 'Save' });
    save.onclick = async () => {
      const p = adding
        ? await change('POST', '/api/rules', { config: config() })
        : await change('PUT', `/api/rules/${row.id}`, { config: config() });
      show(p);
      if (!p.length && adding) await this.refresh();
    };
    box.append(' ', save);
    if (!adding) {
      const del = el('button', { type: 'button', textContent: 'Delete' });
      del.onclick = async () => {
        const p = await change('DELETE', `/api/rules/${row.id}`);
        if (p.length) show(p);
        else await this.refresh();
      };
      box.append(' ', del);
    }
    box.append(f.general);
    return box;
  }
}

const host = document.getElementById('schedules');
if (host) {
  const editor = new ScheduleEditor(host);
  void editor.refresh();
  window.addEventListener('canopy-token', () => void editor.refresh());
}
