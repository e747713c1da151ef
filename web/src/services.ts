/**
 * The Services panel: which Canopy processes are up, from the heartbeats
 * GET /health lists (Redis keys and, while Redis is away, the fallback
 * heartbeat files), with the backlog and error counters a heartbeat carries.
 * Polled every 5 s with the stored token. A service that stops while the
 * page is open keeps its row (not running), with when it last beat and what
 * its last beat said (its backlog and errors): what it left behind.
 */
import './services.css';
import { storedToken } from './api.js';
import type { Panel, PanelContext } from './shell.js';
import { formatAge } from './when.js';

/** One heartbeat as GET /health lists it (src/services/api/routes/health.ts). */
export interface ServiceBeat {
  service: string;
  instance: string;
  source?: string;
  ageMs: number | null;
  /** ms until the heartbeat expires (absent from older APIs). */
  ttlLeftMs?: number;
  pid?: number;
  host?: string;
  version?: string;
  started_at?: string;
  updated_at?: string;
  [k: string]: unknown;
}

/** The store's read side as GET /health reports it when a replica is configured (DATABASE_READ_URL). */
export interface ReadsHealth {
  target: 'primary' | 'replica';
  fallbacks: number;
  replica: { server: string; up: boolean; lagMs: number | null; error?: string } | null;
}

interface Health {
  status: string;
  redis?: { status: string; error?: string };
  store?: { status: string; error?: string };
  reads?: ReadsHealth;
  services?: ServiceBeat[];
}

/** Services a grower expects to see running. */
export const EXPECTED = ['scanner', 'worker', 'api', 'automation'] as const;

/** The heartbeat TTL assumed when /health does not say (HEARTBEAT_DEFAULTS). */
const DEFAULT_TTL_MS = 30_000;

/** A beat older than this share of its TTL is shown as stale (two beats missed). */
const STALE_SHARE = 2 / 3;

export type ServiceState = 'up' | 'stale' | 'missing';

export function stateOf(beat: ServiceBeat | undefined): ServiceState {
  if (!beat) return 'missing';
  if (beat.ageMs === null) return 'up';
  // age and time left add up to the TTL the service set
  const ttlMs = typeof beat.ttlLeftMs === 'number' ? beat.ageMs + beat.ttlLeftMs : DEFAULT_TTL_MS;
  return beat.ageMs > ttlMs * STALE_SHARE ? 'stale' : 'up';
}

const STATE_TEXT: Record<ServiceState, string> = { up: 'up', stale: 'stale', missing: 'not running' };

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Heartbeat counters that count failures (each service names its own); their sum is shown as errors. */
export const ERROR_COUNTERS = [
  'errors',
  'storeFailures',
  'liveFailures',
  'deadLettered',
  'failures',
  'failed',
  'publishFailures',
  'writeErrors',
];

/** Failures a heartbeat reports (0 when it reports none). */
export function errorsOf(b: ServiceBeat): number {
  let n = 0;
  for (const k of ERROR_COUNTERS) {
    const v = b[k];
    if (typeof v === 'number' && Number.isFinite(v)) n += v;
  }
  return n;
}

/** `lag 120 · 40 unacked` from a heartbeat's `lag` / `pending` counters; '' when it has none. */
export function backlogOf(b: ServiceBeat): string {
  const parts: string[] = [];
  if (typeof b.lag === 'number') parts.push(`lag ${b.lag}`);
  if (typeof b.pending === 'number') parts.push(`${b.pending} unacked`);
  return parts.join(' · ');
}

async function fetchHealth(signal: AbortSignal): Promise<Health> {
  const token = storedToken();
  const res = await fetch('/health', {
    signal,
    headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  // 503 still carries the full body: Redis or the store is down
  if (!res.ok && res.status !== 503) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      msg = ((await res.json()) as { message?: string }).message ?? msg;
    } catch {
      // not JSON
    }
    throw new Error(msg);
  }
  return (await res.json()) as Health;
}

/**
 * One line on where history and exports are read from, and whether that is
 * what was configured: `{ text, ok }`; undefined when no replica is configured.
 */
export function readsOf(r: ReadsHealth | undefined): { text: string; ok: boolean } | undefined {
  if (!r || !r.replica) return undefined;
  const fallbacks = r.fallbacks > 0 ? ` · ${r.fallbacks} reads fell back to the primary` : '';
  if (!r.replica.up) return { text: `History replica down: reads from the primary${fallbacks}`, ok: false };
  const ms = r.replica.lagMs;
  const lag = ms === null ? 'lag unknown' : ms < 1000 ? `${Math.round(ms)} ms behind` : `${formatAge(ms)} behind`;
  return { text: `History from the replica (${lag})${fallbacks}`, ok: true };
}

export class ServicesPanel {
  readonly #overall: HTMLElement;
  readonly #reads: HTMLElement;
  readonly #list: HTMLElement;
  #timer: number | undefined;
  #inflight: AbortController | undefined;
  /** The last beat seen of every service, and when it was sent (page time). */
  readonly #lastSeen = new Map<string, { beat: ServiceBeat; at: number }>();

  constructor(root: HTMLElement) {
    const head = el('div', 'services-head');
    this.#overall = el('span', 'services-overall', 'checking…');
    this.#overall.dataset.status = 'unknown';
    head.append(el('h2', undefined, 'Services'), this.#overall);
    this.#reads = el('p', 'services-reads');
    this.#reads.hidden = true;
    this.#list = el('ul', 'services-list');
    this.#list.append(el('li', 'muted', 'Loading…'));
    root.replaceChildren(head, this.#reads, this.#list);
  }

  /** Loads now and every `everyMs`. */
  start(everyMs = 5_000): void {
    void this.refresh();
    this.#timer = window.setInterval(() => void this.refresh(), everyMs);
  }

  stop(): void {
    window.clearInterval(this.#timer);
    this.#inflight?.abort();
  }

  async refresh(): Promise<void> {
    if (this.#inflight) return;
    const ac = new AbortController();
    this.#inflight = ac;
    try {
      this.render(await fetchHealth(ac.signal));
    } catch (err) {
      // the rows stay, dimmed: they are the last known state
      this.#list.classList.add('outdated');
      this.#overall.dataset.status = 'unknown';
      this.#overall.textContent = `unknown — ${(err as Error).message}`;
    } finally {
      this.#inflight = undefined;
    }
  }

  render(h: Health, now = Date.now()): void {
    this.#list.classList.remove('outdated');
    this.#overall.dataset.status = h.status;
    const why = [h.redis, h.store]
      .map((d, i) => (d && d.status !== 'up' ? `${i === 0 ? 'Redis' : 'store'} down` : ''))
      .filter(Boolean);
    const beats = h.services ?? [];
    for (const b of beats) this.#lastSeen.set(b.service, { beat: b, at: now - (b.ageMs ?? 0) });
    const rows: HTMLElement[] = beats.map((b) => this.#row(b.service, b, now));
    // expected services, and any seen since the page opened, that no longer beat
    const gone = new Set<string>([...EXPECTED, ...this.#lastSeen.keys()]);
    for (const name of gone) if (!beats.some((b) => b.service === name)) rows.push(this.#row(name, undefined, now));
    const down = rows.filter((r) => r.dataset.state === 'missing').length;
    const notRunning = down > 0 ? `${down} not running` : '';
    if (why.length || h.status !== 'ok')
      this.#overall.textContent = `API ${h.status}${why.length ? ` (${why.join(', ')})` : ''}${notRunning ? ` · ${notRunning}` : ''}`;
    else this.#overall.textContent = notRunning || 'all running';
    if (down > 0 && h.status === 'ok') this.#overall.dataset.status = 'degraded';
    rows.sort((a, b) => (a.dataset.service ?? '').localeCompare(b.dataset.service ?? ''));
    this.#list.replaceChildren(...rows);
    const reads = readsOf(h.reads);
    this.#reads.hidden = !reads;
    this.#reads.textContent = reads?.text ?? '';
    this.#reads.dataset.ok = String(reads?.ok ?? true);
  }

  #row(name: string, b: ServiceBeat | undefined, now: number): HTMLElement {
    const state = stateOf(b);
    const li = el('li', `service ${state}`);
    li.dataset.service = name;
    li.dataset.state = state;
    if (b) li.dataset.instance = b.instance;
    const top = el('div', 'service-top');
    const dot = el('span', 'dot');
    dot.setAttribute('aria-hidden', 'true');
    top.append(dot, el('span', 'name', name), el('span', 'state', STATE_TEXT[state]));
    li.append(top);
    if (!b) {
      const last = this.#lastSeen.get(name);
      if (last) li.append(this.#lastBeat(last.beat, now - last.at));
      return li;
    }
    const meta = el('div', 'service-meta');
    const started = b.started_at ? Date.parse(b.started_at) : NaN;
    meta.append(el('span', 'since', Number.isFinite(started) ? `up ${formatAge(Math.max(0, now - started))}` : '—'));
    if (b.version) meta.append(el('span', 'version', `v${b.version.replace(/^v/, '')}`));
    if (b.ageMs !== null)
      meta.append(el('span', 'beat', b.ageMs < 1000 ? 'beat just now' : `beat ${formatAge(b.ageMs)} ago`));
    if (b.source === 'file') meta.append(el('span', 'via-file', 'via file (Redis unreachable)'));
    const backlog = backlogOf(b);
    if (backlog) meta.append(el('span', 'backlog', backlog));
    const errors = errorsOf(b);
    meta.append(el('span', errors > 0 ? 'errors has-errors' : 'errors', errors > 0 ? `${errors} errors` : 'no errors'));
    if (b.paused === true) meta.append(el('span', 'paused', 'paused'));
    li.append(meta);
    li.title = `${b.instance}${b.host ? ` on ${b.host}` : ''}${b.pid ? `, pid ${b.pid}` : ''}`;
    return li;
  }

  /** A stopped service's last beat: when, and the backlog and errors it reported then. */
  #lastBeat(b: ServiceBeat, agoMs: number): HTMLElement {
    const meta = el('div', 'service-meta last');
    meta.append(el('span', 'last-beat', agoMs < 1000 ? 'last beat just now' : `last beat ${formatAge(agoMs)} ago`));
    const backlog = backlogOf(b);
    if (backlog) meta.append(el('span', 'backlog', `left ${backlog}`));
    const errors = errorsOf(b);
    if (errors > 0) meta.append(el('span', 'errors has-errors', `${errors} errors`));
    return meta;
  }
}

/** Mounts the Services panel into `#services`. */
export function mountServices(root: HTMLElement, _ctx: PanelContext): Panel {
  const p = new ServicesPanel(root);
  p.start();
  return p;
}
