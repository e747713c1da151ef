import { Connection } from '../bus/connection.js';
import { listInstances } from '../bus/presence.js';
import { portInUse, portOwner } from './port-owner.js';

export type UpErrorCode = 'UP_PORT_TAKEN' | 'UP_NOT_UP';

/** `canopy up` refused to start (a port is taken) or started but the dashboard never answered. */
export class UpError extends Error {
  readonly code: UpErrorCode;
  constructor(code: UpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpError';
    this.code = code;
  }
}

/** A TCP port `canopy up` will listen on, and how the user chooses another. */
export interface PlannedPort {
  /** What listens there: `the api (dashboard)`, `the managed Redis`. */
  what: string;
  port: number;
  /** How to choose another: `--redis-port N`, `CANOPY_API_PORT=N`. */
  hint: string;
}

/**
 * Checks every port before anything starts. A taken port is an
 * {@link UpError} `UP_PORT_TAKEN` whose message is one line naming the port,
 * what holds it when this user can see it (pid and command), and how to
 * choose another. Two planned uses of the same port are refused the same way.
 */
export async function checkPorts(ports: PlannedPort[]): Promise<void> {
  const seen = new Map<number, PlannedPort>();
  for (const p of ports) {
    const twice = seen.get(p.port);
    if (twice)
      throw new UpError(
        'UP_PORT_TAKEN',
        `port ${p.port} is planned for both ${twice.what} and ${p.what}: choose another one (${p.hint})`,
      );
    seen.set(p.port, p);
  }
  for (const p of ports) {
    if (!(await portInUse(p.port))) continue;
    const owner = portOwner(p.port);
    const by = owner ? `by pid ${owner.pid} (${owner.command})` : 'by another program';
    throw new UpError(
      'UP_PORT_TAKEN',
      `port ${p.port} (for ${p.what}) is already in use ${by}: stop it or choose another port with ${p.hint}`,
    );
  }
}

/** What {@link waitForDashboard} watches. */
export interface DashboardWait {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  timeoutMs: number;
  /** A reason to give up at once (the api crash-loops), checked between attempts. */
  givenUp: () => string | undefined;
}

async function answers(url: string, okStatus: (s: number) => boolean): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return okStatus(res.status);
  } catch {
    return false;
  }
}

/**
 * Resolves once the dashboard answers: `GET /` with 200 and `GET /health` with its JSON (200, or 503 while Redis or the store is still
 * coming up: the page is served either way). Rejects with `UP_NOT_UP` when
 * `givenUp()` names a reason or at the deadline.
 */
export async function waitForDashboard(w: DashboardWait): Promise<void> {
  const deadline = performance.now() + w.timeoutMs;
  const health = new URL('health', w.url).href;
  for (;;) {
    const reason = w.givenUp();
    if (reason) throw new UpError('UP_NOT_UP', reason);
    if ((await answers(w.url, (s) => s === 200)) && (await answers(health, (s) => s === 200 || s === 503))) return;
    if (performance.now() > deadline)
      throw new UpError(
        'UP_NOT_UP',
        `the dashboard at ${w.url} did not answer within ${Math.round(w.timeoutMs / 1000)} s`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Waits until each of `services` has a heartbeat in the Redis at `redisUrl`
 * (a service beats once its inputs are set up), for at most `timeoutMs` or
 * until `stopped()`; returns the ones still missing. A Redis that cannot be
 * asked (a user without SCAN, gone) ends the wait with nothing missing:
 * `canopy status` tells more.
 */
export async function waitForHeartbeats(
  redisUrl: string,
  services: string[],
  timeoutMs: number,
  stopped: () => boolean,
): Promise<string[]> {
  if (services.length === 0 || !(timeoutMs > 0)) return [];
  let conn: Connection;
  try {
    conn = await Connection.connect({ url: redisUrl, clientName: 'canopy-up', healthCheckIntervalMs: 0 });
  } catch {
    return [];
  }
  conn.on('error', () => undefined);
  try {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const beating = new Set((await listInstances(conn)).map((i) => i.info?.service));
      const missing = services.filter((s) => !beating.has(s));
      if (missing.length === 0 || stopped() || performance.now() > deadline) return missing;
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch {
    return [];
  } finally {
    await conn.close();
  }
}
