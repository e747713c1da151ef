/**
 * The one device list: grouped by room, friendly label first, state, mode,
 * since when, the controller's reason, hold-backs counting down, failsafe
 * and manual expiry; live from the `device` messages. An operator gets the
 * controls inline, with feedback from the device:update that answers each
 * command (applied, held back, refused); a viewer sees no buttons.
 */
import './devices.css';
import { ApiError, type LiveMessage, type PanelContext } from './shell.js';
import {
  CONFIRM_KINDS,
  clock,
  countdown,
  duration,
  modeText,
  onOff,
  reasonText,
  sourceText,
  type DeviceState,
} from './device-text.js';
import { el as h } from './when.js';

/** How long a manual or off command lasts, as chosen in the panel. */
export type Expiry = { ttl_s: number } | { until_changed: true };

export interface DeviceListOptions {
  /** The expiry the next manual or off command gets. */
  expiry(): Expiry;
}

type Outcome = 'pending' | 'applied' | 'held' | 'refused';
interface Feedback {
  outcome: Outcome;
  text: string;
  /** While held: what it waits for (ms) and the state it wants. */
  until?: number;
  want?: number;
}
interface Row {
  d: DeviceState;
  /** The controller's reason (notices of hold-backs and refusals do not replace it). */
  why: string;
  el: HTMLElement;
  feedback?: Feedback;
  /** Updates the countdowns in place (a row is never rebuilt just because time passed: taps must not miss). */
  timers: (() => void)[];
}

/** A pending command gets its answer within this time, or the row says the automation did not answer. */
const ANSWER_TIMEOUT_MS = 15_000;

export class DeviceList {
  readonly #root: HTMLElement;
  readonly #ctx: PanelContext;
  readonly #opts: DeviceListOptions;
  readonly #rows = new Map<string, Row>();
  /** Command id → device, for commands this tab sent and not yet answered. */
  readonly #pending = new Map<string, string>();
  /** Answers that arrived before the POST returned its id. */
  readonly #early = new Map<string, DeviceState>();
  readonly #dialog: HTMLDialogElement;
  readonly #stops: (() => void)[] = [];
  #timer: number;

  constructor(root: HTMLElement, ctx: PanelContext, opts: DeviceListOptions) {
    this.#root = root;
    this.#ctx = ctx;
    this.#opts = opts;
    root.classList.add('dev-list');
    root.append(h('p', 'muted', 'Waiting for the automation to report its devices…'));
    this.#dialog = h('dialog', 'dev-confirm');
    document.body.append(this.#dialog);
    this.#stops.push(
      ctx.live.on<LiveMessage & { data: DeviceState }>('device', (m) => this.set(m.data)),
      ctx.live.on<LiveMessage & { devices?: DeviceState[] }>('hello', (m) => {
        for (const d of m.devices ?? []) this.set(d, true);
      }),
      ctx.onRole(() => this.#renderAll()),
    );
    this.#timer = window.setInterval(() => this.tick(), 1000);
    void ctx.api
      .get<{ devices: DeviceState[] }>('/api/devices')
      .then((r) => {
        for (const d of r.devices) this.set(d, true);
      })
      .catch(() => undefined); // the live channel's hello brings them too
  }

  /** A device update: merges it into its row (`initial`: a listing, not an answer to anything). */
  set(d: DeviceState, initial = false): void {
    const row = this.#rows.get(d.device);
    const cmd = initial ? undefined : d.command;
    // a hold-back or refusal notice says why it did not switch, not why it is in its state
    const notice = cmd?.outcome === 'refused' || /^(on|off) held back|^refused/.test(d.reason ?? '');
    const why = notice && row ? row.why : (d.reason ?? row?.why ?? '');
    const next: Row = row ?? { d, why, el: h('article', 'dev'), timers: [] };
    // a listing must not undo a newer live update
    if (row && initial && Date.parse(d.timestamp) < Date.parse(row.d.timestamp)) return;
    next.d = { ...d, ...(cmd ? {} : { command: undefined }) };
    next.why = why;
    if (!row) this.#rows.set(d.device, next);
    if (cmd) this.#answer(next, cmd, d);
    else if (next.feedback?.outcome === 'held' && !d.held && d.state === next.feedback.want)
      next.feedback = { outcome: 'applied', text: `Applied: ${onOff(d.state)} now` };
    if (!row) this.#layout();
    this.#render(next);
  }

  #answer(row: Row, cmd: NonNullable<DeviceState['command']>, d: DeviceState): void {
    if (!this.#pending.has(cmd.id)) {
      this.#early.set(cmd.id, d);
      if (this.#early.size > 50) this.#early.delete(this.#early.keys().next().value!);
      return;
    }
    this.#pending.delete(cmd.id);
    if (cmd.outcome === 'refused') row.feedback = { outcome: 'refused', text: `Refused: ${cmd.reason}` };
    else if (cmd.outcome === 'held' && d.held)
      row.feedback = {
        outcome: 'held',
        text: `Held back: ${d.held.why}`,
        until: Date.parse(d.held.until),
        want: d.held.want,
      };
    else if (cmd.outcome === 'held')
      row.feedback = { outcome: 'held', text: `Held back: ${cmd.reason}`, want: 1 - d.state };
    else row.feedback = { outcome: 'applied', text: `Applied: ${appliedText(d)}` };
  }

  /** Updates what changes with time (the countdowns) without rebuilding a row. */
  tick(): void {
    for (const row of this.#rows.values()) for (const t of row.timers) t();
  }

  /** Rooms in the order first seen, devices by label. */
  #layout(): void {
    const rooms = new Map<string, Row[]>();
    for (const r of this.#rows.values()) rooms.set(r.d.location, [...(rooms.get(r.d.location) ?? []), r]);
    this.#root.replaceChildren(
      ...[...rooms].map(([room, rows]) => {
        const sec = h('section', 'dev-room');
        sec.dataset.room = room;
        const grid = h('div', 'dev-grid');
        rows.sort((a, b) => (a.d.label ?? a.d.device).localeCompare(b.d.label ?? b.d.device));
        grid.append(...rows.map((r) => r.el));
        sec.append(h('h3', '', room), grid);
        return sec;
      }),
    );
  }

  #renderAll(): void {
    for (const row of this.#rows.values()) this.#render(row);
  }

  #render(row: Row): void {
    const { d } = row;
    const now = Date.now();
    row.timers = [];
    /** A line whose text follows the clock. */
    const live = (cls: string, text: () => string) => {
      const p = h('p', cls);
      const set = () => {
        const t = text();
        if (p.textContent !== t) p.textContent = t;
      };
      set();
      row.timers.push(set);
      return p;
    };
    const failsafe = d.source === 'failsafe' || d.mode === 'failsafe';
    const el = row.el;
    el.className = `dev ${d.state ? 'on' : 'off'}${failsafe ? ' failsafe' : ''}${d.held ? ' held' : ''}`;
    el.dataset.device = d.device;
    el.dataset.state = d.state ? 'on' : 'off';
    el.dataset.mode = d.mode;

    const head = h('div', 'dev-head');
    const name = h('div', 'dev-name');
    name.append(h('strong', 'dev-label', d.label ?? d.device), h('small', 'dev-id', `${d.device} · ${d.cluster}`));
    head.append(name, h('span', 'dev-state', onOff(d.state)));

    const meta = h('div', 'dev-meta');
    meta.append(h('span', `dev-mode mode-${d.mode}`, modeText(d.mode)));
    const since = d.since ? Date.parse(d.since) : undefined;
    if (since !== undefined) meta.append(h('span', 'dev-since', `since ${clock(since, now)}`));
    // a disabled device is off because it is disabled, whatever switched it last
    if (d.source && d.mode !== 'off') meta.append(h('span', 'dev-source', sourceText(d.source)));
    if (d.simulated) meta.append(h('span', 'dev-sim', 'simulated relay'));

    const lines: HTMLElement[] = [];
    if (failsafe) lines.push(h('p', 'dev-failsafe', `Failsafe: kept in its safe state. ${reasonText(row.why)}`));
    else if (row.why) lines.push(h('p', 'dev-why', reasonText(row.why)));
    const held = d.held;
    if (held) {
      const until = Date.parse(held.until);
      const what = `${onOff(held.want)} held back: ${held.why}`;
      lines.push(
        live('dev-held', () => {
          const left = until - Date.now();
          return left > 0 ? `${what}, ${countdown(left)} left` : `${what}, any moment now`;
        }),
      );
    }
    if (d.mode !== 'auto' && d.mode !== 'failsafe') {
      const what = d.mode === 'manual' ? `manual ${onOff(d.mode === 'manual' ? manualWant(d) : 0)}` : 'disabled';
      const until = d.expires_at ? `until ${clock(Date.parse(d.expires_at), now)}, then auto` : 'until changed';
      lines.push(h('p', 'dev-expiry', `${what} ${until}`));
    }
    const fb = row.feedback;
    const status = live('dev-feedback', () => {
      if (!fb) return '';
      if (fb.outcome !== 'held' || fb.until === undefined) return fb.text;
      const left = fb.until - Date.now();
      return fb.text + (left > 0 ? ` until ${clock(fb.until)} (${countdown(left)} left)` : ', any moment now');
    });
    status.setAttribute('role', 'status');
    if (fb) status.dataset.outcome = fb.outcome;
    const parts: HTMLElement[] = [head, meta, ...lines, status];
    if (this.#ctx.role === 'operator') parts.push(this.#actions(d));
    el.replaceChildren(...parts);
  }

  #actions(d: DeviceState): HTMLElement {
    const box = h('div', 'dev-actions');
    const b = (text: string, body: Record<string, unknown>, pressed: boolean) => {
      const btn = h('button', pressed ? 'pressed' : '', text);
      btn.type = 'button';
      btn.setAttribute('aria-pressed', String(pressed));
      btn.onclick = () => void this.command(d, body);
      return btn;
    };
    const manual = d.mode === 'manual';
    const want = manualWant(d);
    box.append(
      b('On', { mode: 'manual', state: 1 }, manual && want === 1),
      b('Off', { mode: 'manual', state: 0 }, manual && want === 0),
      b('Auto', { mode: 'auto' }, d.mode === 'auto'),
      b('Disable', { mode: 'off' }, d.mode === 'off'),
    );
    return box;
  }

  /** Sends a command for `d` (after a confirmation for a heater's or CO2 valve's manual on). */
  async command(d: DeviceState, body: Record<string, unknown>): Promise<void> {
    const row = this.#rows.get(d.device)!;
    const full = body.mode === 'auto' ? { ...body } : { ...body, ...this.#opts.expiry() };
    if (body.mode === 'manual' && body.state === 1 && CONFIRM_KINDS.includes(d.kind ?? '')) {
      if (!(await this.#confirm(d, this.#opts.expiry()))) return;
    }
    row.feedback = { outcome: 'pending', text: 'Sent — waiting for the automation…' };
    this.#render(row);
    try {
      const r = await this.#ctx.api.send<{ id: string }>('POST', `/api/devices/${encodeURIComponent(d.device)}`, full);
      this.#pending.set(r.id, d.device);
      const early = this.#early.get(r.id);
      if (early) {
        this.#early.delete(r.id);
        this.set(early);
      }
      window.setTimeout(() => {
        if (!this.#pending.delete(r.id)) return;
        row.feedback = {
          outcome: 'refused',
          text: 'No answer from the automation: is it running? (see Services)',
        };
        this.#render(row);
      }, ANSWER_TIMEOUT_MS);
    } catch (err) {
      const e = err as Error;
      const text =
        err instanceof ApiError && err.status === 401
          ? 'Refused: enter an operator token above'
          : err instanceof ApiError && err.status === 403
            ? 'Refused: this token may only read; enter an operator token above'
            : `Refused: ${e.message}`;
      row.feedback = { outcome: 'refused', text };
      this.#render(row);
    }
  }

  /** Asks before a heater or CO2 valve goes on by hand, showing when it will return to auto. */
  #confirm(d: DeviceState, expiry: Expiry): Promise<boolean> {
    const dlg = this.#dialog;
    const label = d.label ?? d.device;
    const until =
      'ttl_s' in expiry
        ? `It returns to automatic at ${clock(Date.now() + expiry.ttl_s * 1000)} (in ${duration(expiry.ttl_s)}).`
        : 'You chose "until changed": a heater or CO2 valve may not stay on without an expiry, so this will be refused.';
    const form = h('form');
    form.method = 'dialog';
    const yes = h('button', 'danger', `Turn ${label} ON`);
    yes.value = 'yes';
    const no = h('button', '', 'Cancel');
    no.value = 'no';
    const btns = h('div', 'dev-actions');
    btns.append(no, yes);
    form.append(
      h('h3', '', `Turn ${label} on by hand?`),
      h('p', '', `${label} (${d.device}) will be ON regardless of its controller. ${until}`),
      h('p', 'muted', 'The room hard limits and the maximum on time still apply.'),
      btns,
    );
    dlg.replaceChildren(form);
    return new Promise((resolve) => {
      dlg.onclose = () => resolve(dlg.returnValue === 'yes');
      dlg.returnValue = '';
      dlg.showModal();
    });
  }

  stop(): void {
    window.clearInterval(this.#timer);
    for (const s of this.#stops) s();
    this.#dialog.remove();
  }
}

/** The state a manual mode holds (the update's state, unless a hold-back says it wants the other). */
function manualWant(d: DeviceState): number {
  return d.held ? d.held.want : d.state;
}

function appliedText(d: DeviceState): string {
  if (d.mode === 'auto') return `back to auto (${onOff(d.state)})`;
  const until = d.expires_at ? ` until ${clock(Date.parse(d.expires_at))}` : ' until changed';
  return d.mode === 'off' ? `disabled${until}` : `manual ${onOff(d.state)}${until}`;
}
