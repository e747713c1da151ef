import { Connection } from '../../src/bus/connection.js';
import type { ConnectionOptions } from '../../src/bus/options.js';
import { register } from '../support/cleanup.js';

/** Polls `check` until it returns true; throws with `what` after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A bus connection closed when the test file ends. */
export async function connect(url: string, opts: Partial<ConnectionOptions> = {}): Promise<Connection> {
  const conn = await Connection.connect({ url, healthCheckIntervalMs: 0, ...opts });
  conn.on('error', () => undefined);
  register({ stop: () => conn.close(), killSync: () => conn.client.destroy() });
  return conn;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
