import { formatDuration, monoOf, wallOf, type Instant } from './clock.js';
import { NO_UNTIL_CHANGED, type ManualPolicy } from './limits.js';
import type { ControlEvent, DeviceSnapshot, Runtime } from './types.js';

/**
 * Converting a device's state to and from its persisted form. The engine
 * runs on monotonic time, which restarts at a reboot; what is persisted is
 * on the wall clock, converted back on load.
 */
export function snapshotDevice(rt: Runtime, now: Instant): DeviceSnapshot {
  const g = rt.guard.snapshot();
  return {
    mode: rt.mode,
    manualState: rt.manualState,
    modeExpiresAt: rt.modeExpiresAt === null ? null : wallOf(rt.modeExpiresAt, now),
    modeTtlMs: rt.modeTtlMs,
    modeBy: rt.modeBy,
    state: rt.guard.on ? 1 : 0,
    guard: { on: g.on, since: wallOf(g.since, now), starts: g.starts.map((t) => wallOf(t, now)) },
  };
}

/**
 * Restores one device. A manual or off mode comes back only while its
 * wall-clock deadline lies ahead, and then for no longer than it was
 * granted nor than `maxExpiryMs` (a clock that is behind after a reboot
 * never extends it). A heater's or CO2 valve's manual on without a
 * deadline is not restored.
 */
export function restoreDevice(rt: Runtime, snap: DeviceSnapshot, now: Instant, manual: ManualPolicy): ControlEvent {
  const name = rt.cfg.name;
  const mode = snap.mode === 'auto' || snap.mode === 'manual' || snap.mode === 'off' ? snap.mode : rt.mode;
  const manualState = snap.manualState === 1 ? 1 : 0;
  const by = typeof snap.modeBy === 'string' ? snap.modeBy : 'restore';
  const ev = (message: string, type: ControlEvent['type'] = 'restored'): ControlEvent => ({
    type,
    device: name,
    at: now.wall,
    message,
  });
  rt.mem.lastOn = snap.state === 1;
  if (snap.guard && Number.isFinite(snap.guard.since)) {
    rt.guard.restoreHistory({
      on: snap.guard.on,
      since: Math.min(now.mono, monoOf(snap.guard.since, now)),
      starts: (snap.guard.starts ?? []).map((t) => monoOf(t, now)).filter((t) => t <= now.mono),
    });
  }
  const last = `last state ${snap.state ? 'on' : 'off'}`;
  if (mode === 'auto') {
    rt.mode = 'auto';
    rt.modeBy = by;
    return ev(`restored mode auto, ${last}`);
  }
  const what = mode === 'manual' ? `manual ${manualState ? 'on' : 'off'}` : 'off';
  let expiresAt: number | null = null;
  let ttl: number | null = null;
  if (typeof snap.modeExpiresAt === 'number' && Number.isFinite(snap.modeExpiresAt)) {
    const left = snap.modeExpiresAt - now.wall;
    if (left <= 0) return ev(`${what} by ${by} expired while automation was stopped; not restored`, 'expired');
    const granted = typeof snap.modeTtlMs === 'number' && snap.modeTtlMs > 0 ? snap.modeTtlMs : manual.maxExpiryMs;
    ttl = Math.min(left, granted, manual.maxExpiryMs);
    expiresAt = now.mono + ttl;
  } else if (mode === 'manual' && manualState === 1 && NO_UNTIL_CHANGED.includes(rt.cfg.kind)) {
    return ev(`manual on of a ${rt.cfg.kind} without an expiry is not restored`, 'expired');
  }
  rt.mode = mode;
  rt.manualState = manualState;
  rt.modeBy = by;
  rt.modeExpiresAt = expiresAt;
  rt.modeTtlMs = ttl;
  const left = ttl === null ? ' until changed' : `, ${formatDuration(ttl)} left`;
  return ev(`restored mode ${what}${left}, ${last}`);
}
