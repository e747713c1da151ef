/**
 * `spawnSync` and `execFileSync` for tests, with a timeout.
 *
 * A synchronous child call blocks the test worker's event loop, so vitest's own
 * test timeout cannot fire while it waits: a child that never exits would hold
 * the whole run until CI's limit. These wrappers kill such a child (SIGKILL)
 * after {@link SYNC_TIMEOUT_MS} unless the caller sets its own `timeout`, so the
 * test fails with `ETIMEDOUT` instead. A lint rule makes tests import these
 * rather than the ones of `node:child_process`.
 */
import * as cp from 'node:child_process';

/** Default limit of one synchronous child call in a test. */
export const SYNC_TIMEOUT_MS = 180_000;

function withTimeout(args: unknown, opts: unknown): [readonly string[], Record<string, unknown>] {
  if (!Array.isArray(args)) return [[], { timeout: SYNC_TIMEOUT_MS, killSignal: 'SIGKILL', ...(args as object) }];
  return [args as string[], { timeout: SYNC_TIMEOUT_MS, killSignal: 'SIGKILL', ...(opts as object) }];
}

export const spawnSync = ((cmd: string, args?: unknown, opts?: unknown) => {
  const [a, o] = withTimeout(args, opts);
  return cp.spawnSync(cmd, a, o);
}) as typeof cp.spawnSync;

export const execFileSync = ((cmd: string, args?: unknown, opts?: unknown) => {
  const [a, o] = withTimeout(args, opts);
  return cp.execFileSync(cmd, a, o);
}) as typeof cp.execFileSync;
