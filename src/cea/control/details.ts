import { formatDuration, type Instant } from './clock.js';
import type { OnOff } from './config.js';
import type { CommandAnswer, DeviceDetail, Runtime } from './types.js';

/** Monotonic ms → wall-clock ms as of `now`. */
export const wallOf = (mono: number, now: Instant): number => now.wall - (now.mono - mono);

/** What a dashboard shows beside a device's state (DeviceUpdate's optional fields). */
export function deviceDetail(rt: Runtime, now: Instant): DeviceDetail {
  return {
    label: rt.cfg.label,
    kind: rt.cfg.kind,
    since: wallOf(rt.guard.since, now),
    // a device kept in its safe state by stale data is in failsafe, whatever switched it last
    source: rt.failsafe ? 'failsafe' : rt.source,
    expiresAt: rt.mode !== 'auto' && rt.modeExpiresAt !== null ? wallOf(rt.modeExpiresAt, now) : null,
    held: rt.held ? { ...rt.held, until: wallOf(rt.held.until, now) } : null,
  };
}

/**
 * What became of an accepted device command once the device was decided:
 * `applied` when the output is what the command asked for, `held` when the
 * relay's own limits (min on/off, start limit, an exclusive partner) or the
 * failsafe keep it from it for now, with the reason.
 */
export function commandAnswer(rt: Runtime, id: string, now: Instant): CommandAnswer {
  const state: OnOff = rt.guard.on ? 1 : 0;
  const asked: OnOff | undefined =
    rt.mode === 'manual' ? rt.manualState : rt.mode === 'off' ? (rt.cfg.safeState === 1 ? 1 : 0) : undefined;
  const what = rt.mode === 'manual' ? `manual ${asked ? 'ON' : 'OFF'}` : rt.mode === 'off' ? 'off' : 'auto';
  const until = rt.mode !== 'auto' && rt.modeExpiresAt !== null ? rt.modeExpiresAt : undefined;
  const expiry = until !== undefined ? ` until ${new Date(wallOf(until, now)).toISOString()}` : '';
  if (asked === undefined || asked === state)
    return { id, outcome: 'applied', reason: `${what}${expiry}${rt.mode === 'auto' ? `: ${rt.reason}` : ''}` };
  if (rt.held) {
    const left = formatDuration(Math.max(0, rt.held.until - now.mono));
    return { id, outcome: 'held', reason: `${what} held back: ${rt.held.why}, ${left} left` };
  }
  return { id, outcome: 'held', reason: `${what} held back: ${rt.reason}` };
}
