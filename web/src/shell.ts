/**
 * The dashboard shell: what every panel is given (the panel context) and
 * how it is mounted.
 *
 * Convention: a panel is a module exporting `mountXxx(el, ctx): Panel`,
 * where `el` is its section of web/index.html (`#rooms`, `#alerts`,
 * `#devices`, `#history`, `#journal`, `#schedules`, `#relays`,
 * `#services`) and `ctx` is the one {@link PanelContext} main.ts creates.
 * main.ts has one import and one `mount(...)` line per panel. A panel never
 * opens its own WebSocket: it listens on `ctx.live.on(type, fn)`.
 */
import { storedToken, TOKEN_KEY, type Sensor } from './api.js';
import { connectLive } from './live.js';

/** What the token in this tab may do ('admin' tokens count as 'operator'); null: no token or not known yet. */
export type Role = 'viewer' | 'operator' | null;

/** State of the one live connection. */
export type LiveState = 'connecting' | 'open' | 'closed';

/** A message from /ws: `type` selects the listeners; the rest is the message as the server sent it. */
export interface LiveMessage {
  type: string;
  [k: string]: unknown;
}

/** The one live WebSocket of the page, messages dispatched by their `type`. */
export interface LiveChannel {
  /** Calls `fn` with every message of this type ('sensor', 'device', 'alert', 'hello', …); returns an unsubscribe. */
  on<T extends LiveMessage = LiveMessage>(type: string, fn: (msg: T) => void): () => void;
  /** Calls `fn` now and at every change of the connection state; returns an unsubscribe. */
  onState(fn: (s: LiveState) => void): () => void;
  readonly state: LiveState;
}

/** A refused or failed API call: `status` is the HTTP status (0: no answer), `code` the server's stable code. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Fetch helpers that send the tab's token and turn a refusal into an {@link ApiError}. */
export interface ApiHelpers {
  get<T>(path: string, signal?: AbortSignal): Promise<T>;
  send<T = unknown>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

export interface PanelContext {
  /** GET /api/sensors as loaded at start (items carry `label`). */
  readonly catalogue: Sensor[];
  readonly live: LiveChannel;
  /** The role of the current token, as the server confirmed it over /ws. */
  readonly role: Role;
  /** Calls `fn` now and whenever the role changes (a token entered or refused); returns an unsubscribe. */
  onRole(fn: (r: Role) => void): () => void;
  /** The token of this tab ('' if none). */
  token(): string;
  /** Stores a new token for this tab (sessionStorage) and proves it on the live connection. */
  setToken(token: string): void;
  readonly api: ApiHelpers;
}

/** What a mount function returns: something to stop, or nothing. */
export type Panel = { stop(): void } | void;
export type MountPanel = (el: HTMLElement, ctx: PanelContext) => Panel;

async function call<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const token = storedToken();
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      signal: signal ?? null,
      headers: {
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new ApiError(`no answer from the server (${(err as Error).message})`, 0, undefined, { cause: err });
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const j = (json ?? {}) as { message?: string; code?: string };
    throw new ApiError(j.message ?? `${res.status} ${res.statusText}`, res.status, j.code);
  }
  return json as T;
}

export const apiHelpers: ApiHelpers = {
  get: (path, signal) => call('GET', path, undefined, signal),
  send: (method, path, body) => call(method, path, body),
};

/** The shell's context plus `close()`; main.ts creates one per page. */
export interface Shell extends PanelContext {
  close(): void;
}

/** Opens the live connection and builds the context every panel gets. */
export function createShell(catalogue: Sensor[]): Shell {
  const listeners = new Map<string, Set<(m: LiveMessage) => void>>();
  const stateFns = new Set<(s: LiveState) => void>();
  const roleFns = new Set<(r: Role) => void>();
  let state: LiveState = 'connecting';
  let role: Role = null;
  let send: ((o: object) => void) | undefined;

  const setRole = (r: Role) => {
    if (r === role) return;
    role = r;
    for (const fn of roleFns) fn(r);
  };
  const on = (type: string, fn: (m: LiveMessage) => void) => {
    let set = listeners.get(type);
    if (!set) listeners.set(type, (set = new Set()));
    set.add(fn);
    return () => void set.delete(fn);
  };
  on('auth', (m) => {
    if (m.ok === true) setRole(m.role === 'viewer' ? 'viewer' : m.role ? 'operator' : null);
    else setRole(null);
  });

  const stop = connectLive(
    (m) => {
      const msg = m as unknown as LiveMessage;
      for (const fn of listeners.get(msg.type) ?? []) {
        try {
          fn(msg);
        } catch (err) {
          console.error(`panel listener for ${msg.type} failed`, err);
        }
      }
    },
    (s) => {
      state = s;
      for (const fn of stateFns) fn(s);
    },
    (sendFn) => {
      send = sendFn;
    },
  );

  return {
    catalogue,
    get role() {
      return role;
    },
    onRole(fn) {
      roleFns.add(fn);
      fn(role);
      return () => void roleFns.delete(fn);
    },
    token: storedToken,
    setToken(token) {
      const t = token.trim();
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      else sessionStorage.removeItem(TOKEN_KEY);
      if (t) send?.({ type: 'auth', token: t });
      else setRole(null);
      window.dispatchEvent(new Event('canopy-token'));
    },
    live: {
      on: on as LiveChannel['on'],
      onState(fn) {
        stateFns.add(fn);
        fn(state);
        return () => void stateFns.delete(fn);
      },
      get state() {
        return state;
      },
    },
    api: apiHelpers,
    close() {
      stop();
      listeners.clear();
      stateFns.clear();
      roleFns.clear();
    },
  };
}

/** Mounts a panel into its section, if the page has it; a panel that throws leaves a message instead. */
export function mount(id: string, fn: MountPanel, ctx: PanelContext): Panel {
  const el = document.getElementById(id);
  if (!el) return;
  try {
    return fn(el, ctx);
  } catch (err) {
    el.textContent = `This panel could not start: ${(err as Error).message}`;
    console.error(`panel #${id} failed`, err);
  }
}
