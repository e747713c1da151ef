/**
 * The Alerts panel (#alerts): active alerts first (severity, room, what and
 * since when, an Acknowledge button for operators), then the acknowledged
 * ones and the recent history. Fed by GET /api/alerts and refreshed on every
 * `alert` message of the live channel (and every 30 s as a fallback).
 */
import './alerts.css';
import type { LiveMessage, Panel, PanelContext, Role } from './shell.js';
import { el, formatAge, formatNumber, formatWhen } from './when.js';

/** An alert as GET /api/alerts gives it (src/services/api/alerts-view.ts). */
export interface Alert {
  id: string;
  rule: string;
  kind: string;
  severity: string;
  message: string;
  subject: string;
  label?: string;
  /** The server's friendly text (GET /api/alerts); {@link headline} falls back to building it. */
  text?: string;
  since: string;
  location?: string;
  cluster?: string;
  value?: number;
  limit?: number;
  direction?: 'above' | 'below';
  unit?: string;
  resolved_at?: string;
  acknowledged?: { by: string; at: string };
}

export interface Transition {
  type: string;
  at: string;
  alert: Alert;
}

export interface AlertsAnswer {
  active: Alert[];
  acknowledged: Alert[];
  history: Transition[];
}

const SEVERITY_TEXT: Record<string, string> = { critical: 'Critical', warning: 'Warning', info: 'Info' };
const TRANSITION_TEXT: Record<string, string> = {
  fired: 'Started',
  reminder: 'Still active',
  acknowledged: 'Acknowledged',
  resolved: 'Resolved',
};

/** What happened, in a grower's words: `Dry bulb 34.5 °C — above 30 °C`. */
export function headline(a: Alert): string {
  if (a.text) return a.text;
  const name = a.label ?? a.subject;
  const unit = a.unit ? ` ${a.unit}` : '';
  switch (a.kind) {
    case 'threshold':
      if (a.value !== undefined && a.limit !== undefined && a.direction)
        return `${name} ${formatNumber(a.value)}${unit} — ${a.direction} ${formatNumber(a.limit)}${unit}`;
      return `${name} out of range`;
    case 'stale':
      return `${name} stopped reporting`;
    case 'service':
      return `${name} service stopped`;
    case 'failsafe':
      return `${name} is in its failsafe state`;
    default:
      return a.message;
  }
}

/** `Flower Room · front`, or `System` for an alert of no room. */
export function placeOf(a: Alert): string {
  if (!a.location) return 'System';
  return a.cluster ? `${a.location} · ${a.cluster}` : a.location;
}

const ago = (ms: number) => (ms < 60_000 ? 'just now' : `${formatAge(ms)} ago`);

const severityClass = (s: string) => (s in SEVERITY_TEXT ? s : 'warning');

class AlertsPanel {
  readonly #ctx: PanelContext;
  readonly #count = el('span', 'alerts-count');
  readonly #active = el('ul', 'alerts-list alerts-active');
  readonly #empty = el('p', 'alerts-empty');
  readonly #emptyText = el('span', undefined, ' No active alerts');
  readonly #ackBox = el('details', 'alerts-more alerts-acked');
  readonly #acked = el('ul', 'alerts-list');
  readonly #ackSummary = el('summary');
  readonly #histBox = el('details', 'alerts-more alerts-history');
  readonly #history = el('ul', 'alerts-history-list');
  readonly #hint = el('p', 'alerts-hint muted');
  readonly #status = el('p', 'alerts-status muted');
  #last: AlertsAnswer = { active: [], acknowledged: [], history: [] };
  #role: Role = null;
  /** Ids being acknowledged (their button shows it). */
  readonly #pending = new Set<string>();
  readonly #stops: Array<() => void> = [];
  #timer: number | undefined;
  #loading = false;
  #again = false;

  constructor(root: HTMLElement, ctx: PanelContext) {
    this.#ctx = ctx;
    root.hidden = false;
    const head = el('div', 'alerts-head');
    head.append(el('h2', undefined, 'Alerts'), this.#count);
    this.#empty.append(el('span', 'alerts-ok-mark', '✓'), this.#emptyText);
    this.#empty.hidden = true;
    this.#ackBox.append(this.#ackSummary, this.#acked);
    this.#ackBox.hidden = true;
    this.#ackBox.open = true;
    this.#histBox.append(el('summary', undefined, 'History'), this.#history);
    this.#hint.hidden = true;
    root.replaceChildren(head, this.#status, this.#empty, this.#active, this.#hint, this.#ackBox, this.#histBox);
    this.#stops.push(
      ctx.live.on('alert', () => void this.load()),
      ctx.live.on('hello', () => void this.load()),
      ctx.onRole((r) => {
        this.#role = r;
        this.render();
      }),
    );
    this.#timer = window.setInterval(() => void this.load(), 30_000);
    void this.load();
  }

  stop(): void {
    window.clearInterval(this.#timer);
    for (const s of this.#stops) s();
  }

  /** GET /api/alerts; a call while one runs is folded into one more after it. */
  async load(): Promise<void> {
    if (this.#loading) {
      this.#again = true;
      return;
    }
    this.#loading = true;
    try {
      this.#last = await this.#ctx.api.get<AlertsAnswer>('/api/alerts');
      this.#status.textContent = '';
      this.#status.hidden = true;
    } catch (err) {
      this.#status.hidden = false;
      this.#status.textContent = `Alerts could not be loaded: ${(err as Error).message}`;
    } finally {
      this.#loading = false;
    }
    this.render();
    if (this.#again) {
      this.#again = false;
      void this.load();
    }
  }

  render(now = Date.now()): void {
    const { active, acknowledged, history } = this.#last;
    for (const id of [...this.#pending]) if (!active.some((a) => a.id === id)) this.#pending.delete(id);
    const worst = active.some((a) => a.severity === 'critical')
      ? 'critical'
      : active.length
        ? 'warning'
        : acknowledged.length
          ? 'acknowledged'
          : 'ok';
    this.#count.dataset.level = worst;
    this.#count.textContent = active.length
      ? `${active.length} active`
      : acknowledged.length
        ? `${acknowledged.length} acknowledged`
        : 'all clear';
    this.#empty.hidden = active.length > 0;
    this.#emptyText.textContent = acknowledged.length
      ? ` No new alerts — ${acknowledged.length} acknowledged, still open`
      : ' No active alerts';
    this.#active.replaceChildren(...active.map((a) => this.#item(a, now, true)));
    this.#hint.hidden = !(active.length > 0 && this.#role !== 'operator');
    this.#hint.textContent = 'Acknowledging needs an operator token (enter it in the Control panel).';
    this.#ackBox.hidden = acknowledged.length === 0;
    this.#ackSummary.textContent = `Acknowledged (${acknowledged.length})`;
    this.#acked.replaceChildren(...acknowledged.map((a) => this.#item(a, now, false)));
    this.#history.replaceChildren(
      ...(history.length
        ? history.slice(0, 30).map((t) => this.#transition(t, now))
        : [el('li', 'muted', 'Nothing has happened yet.')]),
    );
  }

  #item(a: Alert, now: number, canAck: boolean): HTMLElement {
    const sev = severityClass(a.severity);
    const li = el('li', `alert sev-${sev}`);
    li.dataset.id = a.id;
    li.dataset.severity = a.severity;
    const top = el('div', 'alert-top');
    top.append(el('span', 'alert-sev', SEVERITY_TEXT[a.severity] ?? a.severity), el('span', 'alert-room', placeOf(a)));
    const since = Date.parse(a.since);
    const when = el(
      'span',
      'alert-since',
      Number.isFinite(since) ? `since ${formatWhen(since, now)} (${ago(now - since)})` : '',
    );
    const body = el('div', 'alert-body');
    body.append(el('div', 'alert-what', headline(a)), when);
    if (a.acknowledged) {
      const at = Date.parse(a.acknowledged.at);
      body.append(
        el(
          'div',
          'alert-acked',
          `Acknowledged by ${a.acknowledged.by}${Number.isFinite(at) ? ` at ${formatWhen(at, now)}` : ''}`,
        ),
      );
    }
    // the engine's own words, with the internal names, as a secondary hint
    body.append(el('div', 'alert-detail', a.message));
    li.append(top, body);
    if (canAck && this.#role === 'operator') {
      const b = el('button', 'alert-ack', this.#pending.has(a.id) ? 'Acknowledging…' : 'Acknowledge');
      b.type = 'button';
      b.disabled = this.#pending.has(a.id);
      b.setAttribute('aria-label', `Acknowledge: ${headline(a)}`);
      b.onclick = () => void this.#acknowledge(a, li);
      li.append(b);
    }
    return li;
  }

  async #acknowledge(a: Alert, li: HTMLElement): Promise<void> {
    this.#pending.add(a.id);
    this.render();
    try {
      await this.#ctx.api.send('POST', `/api/alerts/${encodeURIComponent(a.id)}/ack`);
      // the alerts service confirms on the live channel; load once more in case that message was missed
      window.setTimeout(() => void this.load(), 3000);
    } catch (err) {
      this.#pending.delete(a.id);
      this.render();
      const row = this.#active.querySelector<HTMLElement>(`li[data-id="${CSS.escape(a.id)}"]`) ?? li;
      row.append(el('div', 'alert-error', `Not acknowledged: ${(err as Error).message}`));
    }
  }

  #transition(t: Transition, now: number): HTMLElement {
    const li = el('li', `transition tr-${t.type}`);
    li.dataset.type = t.type;
    const at = Date.parse(t.at);
    li.append(
      el('span', 'tr-when', Number.isFinite(at) ? formatWhen(at, now) : ''),
      el('span', 'tr-type', TRANSITION_TEXT[t.type] ?? t.type),
      el('span', 'tr-what', `${headline(t.alert)} · ${placeOf(t.alert)}`),
    );
    if (t.type === 'acknowledged' && t.alert.acknowledged) li.title = `by ${t.alert.acknowledged.by}`;
    return li;
  }
}

/** Mounts the Alerts panel into `#alerts`. */
export function mountAlerts(root: HTMLElement, ctx: PanelContext): Panel {
  return new AlertsPanel(root, ctx);
}

export type AlertMessage = LiveMessage & { data: { type: string; alert: Alert } };
