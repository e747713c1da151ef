/** One line of `canopy doctor`. */
export interface CheckResult {
  /** Stable id, e.g. `redis.persistence`. */
  id: string;
  /** What is checked, for people. */
  title: string;
  /** ok ✓, warn ! (worth knowing, not wrong), fail ✗ (something is wrong: non-zero exit). */
  status: 'ok' | 'warn' | 'fail';
  /** What was found. */
  detail: string;
  /** One line: how to fix it (warn and fail). */
  fix?: string;
}

export const ok = (id: string, title: string, detail: string): CheckResult => ({ id, title, status: 'ok', detail });
export const warn = (id: string, title: string, detail: string, fix: string): CheckResult => ({
  id,
  title,
  status: 'warn',
  detail,
  fix,
});
export const fail = (id: string, title: string, detail: string, fix: string): CheckResult => ({
  id,
  title,
  status: 'fail',
  detail,
  fix,
});

/** The message of anything thrown. */
export const why = (err: unknown): string => (err instanceof Error ? err.message : String(err));
