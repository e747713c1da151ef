import type { Instant } from './clock.js';
import type { OnOff } from './config.js';
import type { ControlInputs, Reading } from './controllers.js';
import { evaluateControl } from './controllers.js';
import { overLimit, staleness } from './checks.js';
import type { ProgramState } from './program-state.js';
import { holdBackText, holdBackWhy } from './safety.js';
import type { TargetRef } from './schema.js';
import type { ZoneClock } from './timezone.js';
import type { ChangeSource, ControlEvent, DeviceChange, DeviceNotice, EvaluateResult, Runtime } from './types.js';

/** What one device's decision reads from the engine (the engine owns all of it). */
export interface DecideContext {
  readonly zone: ZoneClock;
  /** Monotonic ms of the engine's start (a sensor never heard from is stale from there). */
  readonly startedAt: number;
  readonly programs: ProgramState;
  readonly readings: ReadonlyMap<string, Reading>;
  /** Another device's runtime (exclusion partners). */
  runtime(name: string): Runtime | undefined;
  setpoint(ref: TargetRef): number;
  inputs(now: Instant): ControlInputs;
  notice(device: string, reason: string, now: Instant): DeviceNotice | undefined;
}

/** How often a device's reason may be told again while its state stays (ms). */
export const REASON_REFRESH_MS = 60_000;

/** A reason without its numbers: `dry_bulb_f 25.1 is above 22.5` → `dry_bulb_f # is above #`. */
export function reasonShape(reason: string): string {
  return reason.replace(/-?\d+(?:\.\d+)?/g, '#');
}

/** What a device should be, and why, before the relay's own limits. */
interface Want {
  want: boolean;
  reason: string;
  source: ChangeSource;
  by: string;
}

/** Ends a manual or off mode: back to auto, with an `expired` event. */
export function endMode(rt: Runtime, now: Instant, events: ControlEvent[], message: string, by: string): void {
  events.push({ type: 'expired', device: rt.cfg.name, at: now.wall, message });
  rt.mode = 'auto';
  rt.modeExpiresAt = null;
  rt.modeTtlMs = null;
  rt.modeBy = by;
}

/**
 * Decides one device: its mode, stale data, its controller or an active
 * rule, the hard limits, then the relay's own limits. Returns the change to
 * publish, if its state or mode changed; events and notices go to `out`.
 */
export function decideDevice(
  rt: Runtime,
  ctx: DecideContext,
  now: Instant,
  out: Required<EvaluateResult>,
): DeviceChange | undefined {
  const d = rt.cfg;
  const events = out.events;
  if (rt.mode !== 'auto' && rt.modeExpiresAt !== null && now.mono >= rt.modeExpiresAt)
    endMode(rt, now, events, `${rt.mode} mode by ${rt.modeBy} expired; back to auto`, 'expiry');
  const wasFailsafe = rt.failsafe;
  const w = wanted(rt, ctx, now, events);
  let { reason, source, by } = w;
  // 4. The relay's own limits.
  const otherOn = d.exclusive.find((o) => {
    const x = ctx.runtime(o);
    return x !== undefined && (x.guard.on || x.fault !== null);
  });
  const dec = rt.guard.decide(w.want, now.mono, otherOn);
  const blocked = dec.blocked ?? null;
  const wasHeld = rt.blocked !== null && rt.blocked !== 'max_on';
  rt.held =
    blocked !== null &&
    dec.until !== undefined &&
    (blocked === 'min_on' || blocked === 'min_off' || blocked === 'toggle_limit')
      ? { want: w.want ? 1 : 0, until: dec.until, why: holdBackWhy(dec) }
      : null;
  if (blocked !== rt.blocked || (blocked !== null && w.want !== rt.blockedWant)) {
    rt.blocked = blocked;
    rt.blockedWant = w.want;
    if (blocked && blocked !== 'max_on') {
      const text = holdBackText(w.want, dec, now.mono);
      events.push({ type: 'blocked', device: d.name, at: now.wall, message: text });
      out.notices.push({ ...ctx.notice(d.name, text, now)!, at: now.wall });
    }
  }
  if (dec.blocked === 'max_on') {
    [reason, source, by] = [`maximum on time: ${dec.detail}`, 'safety', 'automation'];
    if (rt.mode === 'manual' && rt.manualState === 1)
      endMode(rt, now, events, `manual on by ${rt.modeBy} ended: maximum on time reached`, 'max-on');
  }
  const from = rt.published;
  const to: OnOff = dec.on ? 1 : 0;
  rt.guard.commit(dec.on, now.mono);
  const src = source === 'startup' ? 'safety' : source;
  if (to !== from.state || rt.mode !== from.mode) {
    rt.reason = reason;
    rt.source = src;
    rt.reasonAt = now.mono;
  }
  if (to === from.state && rt.mode === from.mode) {
    // a failsafe that began or ended, or a hold-back that ended, without a switch: say so
    const failsafeEdge = rt.failsafe !== wasFailsafe;
    // the reason for keeping the state changed (not just its numbers): say so too, at once when
    // what decides changed (startup → controller), otherwise at most every REASON_REFRESH_MS
    const newWhy =
      reason !== '' &&
      reasonShape(reason) !== reasonShape(rt.reason) &&
      (src !== rt.source || now.mono - rt.reasonAt >= REASON_REFRESH_MS);
    if (failsafeEdge || newWhy) {
      rt.reason = reason;
      rt.reasonAt = now.mono;
      if (newWhy) rt.source = src;
    }
    if (failsafeEdge || newWhy || (wasHeld && blocked === null))
      out.notices.push({ ...ctx.notice(d.name, reason, now)!, at: now.wall });
    return undefined;
  }
  rt.published = { state: to, mode: rt.mode };
  return {
    device: d.name,
    location: d.location,
    cluster: d.cluster,
    from: from.state,
    to,
    fromMode: from.mode,
    mode: rt.mode,
    source: to === from.state ? 'mode' : source,
    reason: to === from.state ? `mode ${from.mode} → ${rt.mode}` : reason,
    by,
    at: now.wall,
  };
}

/** Steps 1–3: the mode, stale data, the controller or a rule, the hard limits. */
function wanted(rt: Runtime, ctx: DecideContext, now: Instant, events: ControlEvent[]): Want {
  const d = rt.cfg;
  const control = ctx.programs.control(d);
  const safe = d.safeState === 1;
  let want: boolean;
  let reason: string;
  let source: ChangeSource;
  let by = 'automation';
  // 1. What the mode asks for.
  if (rt.mode === 'off') [want, reason, source, by] = [false, 'mode off', 'mode', rt.modeBy];
  else if (rt.mode === 'manual')
    [want, reason, source, by] = [rt.manualState === 1, 'manual command', 'manual', rt.modeBy];
  else if (!control) [want, reason, source] = [safe, 'no controller: safe state', 'rule'];
  else [want, reason, source] = [safe, '', 'rule'];
  // 2. Stale data: auto mode watches every sensor, the other modes those the device's safety depends on.
  const watched = rt.mode === 'auto' && d.control ? d.sensors : d.safetySensors;
  const rule = rt.mode === 'auto' ? ctx.programs.want(d.name, d.safeState, now.mono) : undefined;
  const stale = staleness(watched, d.safety.staleAfterMs, now.mono, ctx.readings, ctx.startedAt);
  if (stale) {
    if (want !== safe || rt.mode === 'auto')
      [want, reason, source, by] = [safe, stale.reason, 'failsafe', 'automation'];
    if (stale.failsafe && !rt.failsafe) {
      rt.failsafe = true;
      events.push({ type: 'failsafe', device: d.name, at: now.wall, message: `${stale.reason}: going to safe state` });
    }
  } else {
    if (rt.failsafe) {
      rt.failsafe = false;
      events.push({
        type: 'recovered',
        device: d.name,
        at: now.wall,
        message: 'sensor data fresh again; control resumed',
      });
    }
    if (rt.mode === 'auto' && control) {
      const w = evaluateControl(d, control, ctx.zone, ctx.inputs(now), rt.mem);
      [want, reason, source] = [w.on, w.reason, w.source];
    }
  }
  // 2b. An active rule decides instead of the controller (never against the failsafe).
  if (rule && (!stale || rule.on === safe)) [want, reason, source] = [rule.on, rule.reason, 'rule'];
  // 3. Hard limits, in every mode.
  const limit = overLimit(d, ctx.readings, (r) => ctx.setpoint(r));
  if (limit && !rt.limited)
    events.push({ type: 'limit', device: d.name, at: now.wall, message: `${limit}: safe state in every mode` });
  rt.limited = limit !== undefined;
  if (limit && want !== safe) [want, reason, source, by] = [safe, `hard limit: ${limit}`, 'safety', 'automation'];
  return { want, reason, source, by };
}
