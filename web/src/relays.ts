import './relays.css';
import { storedToken } from './api.js';
import { formatAge } from './when.js';
import { connectLive } from './live.js';

/** One relay as GET /api/relays lists it. */
export interface Relay {
  connection: string;
  user: string;
  remote: string | null;
  codec: string | null;
  version: string | null;
  connected_at: string | null;
  last_seen: string | null;
  stale: boolean;
  received: number;
}

/** What the /ws user feed sends (src/services/api/user-feed.ts). */
type FeedMessage =
  | {
      type: 'user';
      user: string;
      kind: 'raw';
      data: { timestamp: unknown; channels: Record<string, number> };
      merged: number;
    }
  | {
      type: 'user';
      user: string;
      kind: 'prediction';
      data: {
        prediction_type?: string;
        data: Record<string, unknown>;
        confidence?: number | null;
        source?: string | null;
      };
    }
  | { type: 'subscribed' | 'unsubscribed' | 'error'; user?: string; message?: string };

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const since = (iso: string | null, now: number): string => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? `${formatAge(Math.max(0, now - t))} ago` : '—';
};

const fmt = (v: unknown): string =>
  typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : typeof v === 'string' ? v : JSON.stringify(v);

/**
 * The Relays panel: the edge relays connected to the gateway (polled from
 * GET /api/relays) and, for the user clicked, its raw channel values and
 * predictions live over /ws (which needs a viewer token).
 */
export class RelaysPanel {
  readonly #list: HTMLElement;
  readonly #detail: HTMLElement;
  #watching: string | undefined;
  #stop: (() => void) | undefined;
  #channels = new Map<string, HTMLElement>();
  #predictions = new Map<string, HTMLElement>();

  constructor(root: HTMLElement) {
    root.replaceChildren(el('h2', undefined, 'Relays'));
    this.#list = el('div', 'relay-list');
    this.#list.append(el('p', 'muted', 'Loading…'));
    this.#detail = el('div', 'relay-detail');
    this.#detail.hidden = true;
    root.append(this.#list, this.#detail);
  }

  /** Loads the list now and every `everyMs`. */
  start(everyMs = 10_000): void {
    void this.refresh();
    window.setInterval(() => {
      if (document.visibilityState === 'visible') void this.refresh();
    }, everyMs);
  }

  async refresh(): Promise<void> {
    const token = storedToken();
    try {
      const res = await fetch('/api/relays', {
        headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      if (!res.ok) throw new Error(`${res.status}`);
      this.#show(((await res.json()) as { relays: Relay[] }).relays);
    } catch (err) {
      this.#list.replaceChildren(el('p', 'muted', `Relays unavailable (${(err as Error).message}).`));
    }
  }

  #show(relays: Relay[]): void {
    if (relays.length === 0) {
      this.#list.replaceChildren(el('p', 'muted', 'No relay is connected to the gateway.'));
      return;
    }
    const now = Date.now();
    const table = el('table', 'relays');
    const head = el('tr');
    for (const h of ['User', 'Since', 'Remote', 'Version']) head.append(el('th', undefined, h));
    table.append(el('thead'), el('tbody'));
    table.tHead!.append(head);
    for (const r of relays) {
      const tr = el('tr', r.stale ? 'stale' : undefined);
      tr.dataset.relay = r.connection;
      tr.dataset.user = r.user;
      const user = el('button', 'relay-user', r.user);
      user.type = 'button';
      user.setAttribute('aria-pressed', String(r.user === this.#watching));
      user.onclick = () => this.watch(r.user);
      const tdUser = el('td');
      tdUser.append(user);
      tr.append(
        tdUser,
        el('td', 'since', since(r.connected_at, now)),
        el('td', 'remote', r.remote ?? '—'),
        el('td', 'version', r.version ?? (r.codec ? `(${r.codec})` : '—')),
      );
      if (r.stale) tr.title = 'not refreshed by the gateway for a while';
      table.tBodies[0]!.append(tr);
    }
    this.#list.replaceChildren(table);
  }

  /** Shows one user's raw channels and predictions live (one /ws connection while open). */
  watch(user: string): void {
    this.#stop?.();
    this.#watching = user;
    for (const b of this.#list.querySelectorAll<HTMLButtonElement>('.relay-user')) {
      b.setAttribute('aria-pressed', String(b.textContent === user));
    }
    this.#channels.clear();
    this.#predictions.clear();
    const title = el('h3', undefined, `Live data of ${user}`);
    const close = el('button', 'relay-close', 'Close');
    close.type = 'button';
    close.onclick = () => this.unwatch();
    const status = el('p', 'muted relay-status', 'connecting…');
    const channels = el('dl', 'relay-channels');
    const preds = el('ul', 'relay-predictions');
    this.#detail.replaceChildren(
      title,
      close,
      status,
      el('h4', undefined, 'Raw channels'),
      channels,
      el('h4', undefined, 'Predictions'),
      preds,
    );
    this.#detail.dataset.user = user;
    this.#detail.hidden = false;
    if (!storedToken()) {
      status.textContent = "A user's live data needs a viewer token: enter one in the Control panel.";
      this.#detail.replaceChildren(title, close, status);
      return;
    }
    this.#stop = connectLive(
      (msg) => this.#onMessage(msg as unknown as FeedMessage, user, status, channels, preds),
      (s) => {
        if (s === 'closed') status.textContent = 'reconnecting…';
      },
      (send) => send({ type: 'subscribe', user }),
    );
  }

  unwatch(): void {
    this.#stop?.();
    this.#stop = undefined;
    this.#watching = undefined;
    this.#detail.hidden = true;
    for (const b of this.#list.querySelectorAll('.relay-user')) b.setAttribute('aria-pressed', 'false');
  }

  #onMessage(m: FeedMessage, user: string, status: HTMLElement, channels: HTMLElement, preds: HTMLElement): void {
    if (m.type === 'subscribed' && m.user === user) status.textContent = 'live · waiting for data';
    else if (m.type === 'error' && m.user === user) status.textContent = m.message ?? 'refused';
    if (m.type !== 'user' || m.user !== user) return;
    status.textContent = `live · ${new Date().toLocaleTimeString()}`;
    if (m.kind === 'raw') {
      for (const [ch, v] of Object.entries(m.data.channels)) {
        let dd = this.#channels.get(ch);
        if (!dd) {
          const row = el('div', 'relay-channel');
          row.dataset.channel = ch;
          dd = el('dd', 'value');
          row.append(el('dt', undefined, ch), dd);
          channels.append(row);
          this.#channels.set(ch, dd);
        }
        dd.textContent = fmt(v);
      }
      return;
    }
    const p = m.data;
    const type = p.prediction_type ?? 'prediction';
    let li = this.#predictions.get(type);
    if (!li) {
      li = el('li', 'relay-prediction');
      li.dataset.prediction = type;
      preds.append(li);
      this.#predictions.set(type, li);
    }
    const values = Object.entries(p.data)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(' · ');
    const conf = typeof p.confidence === 'number' ? ` (${Math.round(p.confidence * 100)} %)` : '';
    li.replaceChildren(el('strong', undefined, type), ` ${values}${conf}${p.source ? ` — ${p.source}` : ''}`);
  }
}
