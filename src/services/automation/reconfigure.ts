import type { Instant } from '../../cea/control/clock.js';
import type { ControlConfig, DeviceConfig } from '../../cea/control/config.js';
import { ControlEngine } from '../../cea/control/engine.js';
import type { ControlEvent, DeviceChange, DeviceStatus, EvaluateResult } from '../../cea/control/engine.js';

/** A new devices file that cannot be applied while running (the old configuration stays in force). */
export class ReloadRefusedError extends Error {
  readonly code = 'AUTOMATION_RELOAD_REFUSED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReloadRefusedError';
  }
}

const wiring = (d: DeviceConfig) =>
  `0x${d.output.address.toString(16)}/${d.output.port}${d.output.pin}${d.output.activeLow ? '/low' : ''} safe ${d.safeState}`;

/**
 * What a reload may not change: the relay bank is opened once, with every
 * device's wiring and safe state, and the on-time accounting counts days in
 * one time zone. Those need a restart (which drives every output safe);
 * everything else (setpoints, safety limits, controllers, hard limits,
 * exclusions, manual policy, stages) is applied in place.
 */
export function restartOnlyChanges(cur: ControlConfig, next: ControlConfig): string[] {
  const out: string[] = [];
  if (cur.timeZone !== next.timeZone) out.push(`timeZone ${cur.timeZone} → ${next.timeZone}`);
  const before = new Map(cur.devices.map((d) => [d.name, d]));
  const after = new Map(next.devices.map((d) => [d.name, d]));
  for (const name of before.keys()) if (!after.has(name)) out.push(`device ${name} removed`);
  for (const [name, d] of after) {
    const old = before.get(name);
    if (!old) out.push(`device ${name} added`);
    else if (wiring(old) !== wiring(d))
      out.push(`device ${name}: output or safe state changed (${wiring(old)} → ${wiring(d)})`);
  }
  return out;
}

/**
 * A new engine for `next` carrying over everything the running one knows,
 * so that no relay moves because of the swap itself: each device's mode,
 * manual state, expiry and relay history (its guard's on/off state and
 * starts, as persisted), the live readings with their ages, and the
 * schedules and rules. Setpoints: a value the file changed applies; one it
 * left alone keeps what an operator set at run time. Throws
 * {@link ReloadRefusedError} for a change that needs a restart.
 */
export function rebuildEngine(old: ControlEngine, next: ControlConfig, now: Instant, by: string): ControlEngine {
  const refused = restartOnlyChanges(old.config, next);
  if (refused.length) throw new ReloadRefusedError(`needs a restart of the automation: ${refused.join('; ')}`);
  const snap = old.snapshot(now);
  const setpoints = Object.fromEntries(
    Object.entries(snap.setpoints).filter(([n]) => old.config.setpoints[n]?.value === next.setpoints[n]?.value),
  );
  const engine = new ControlEngine(next, now);
  engine.restore({ devices: snap.devices, setpoints, cycles: snap.cycles }, now); // grow cycles survive a reload
  engine.setPrograms(old.programs(), now, by);
  for (const s of old.sensors()) {
    const r = old.reading(s);
    if (r) engine.ingest(s, r.value, r.at, r.ts);
  }
  return engine;
}

/**
 * {@link rebuildEngine}, then the new engine's first decisions as changes
 * from the outputs as they are ({@link reloadChanges}), with an event
 * saying the file was reloaded.
 */
export function reconfigureEngine(
  old: ControlEngine,
  next: ControlConfig,
  now: Instant,
  by: string,
): { engine: ControlEngine; result: EvaluateResult } {
  const before = new Map(old.status().map((d) => [d.name, d]));
  const engine = rebuildEngine(old, next, now, by);
  const r = engine.evaluate(now);
  const reloaded: ControlEvent = {
    type: 'command',
    by,
    at: now.wall,
    message: `devices file reloaded: ${next.devices.length} device(s)`,
  };
  const changes = reloadChanges(before, engine.status(), r.changes, by, now.wall);
  return { engine, result: { ...r, changes, events: [reloaded, ...r.events] } };
}

/**
 * The changes to apply after a reload: each device whose decided state or
 * mode differs from its output as it was, from that output (a new engine
 * counts from the safe state, so its own changes name the wrong `from`, and
 * a decision equal to the safe state is no change to it at all).
 */
export function reloadChanges(
  before: Map<string, DeviceStatus>,
  after: DeviceStatus[],
  decided: DeviceChange[],
  by: string,
  at: number,
): DeviceChange[] {
  const out: DeviceChange[] = [];
  for (const d of after) {
    const was = before.get(d.name);
    const c = decided.find((x) => x.device === d.name);
    if (!was) {
      if (c) out.push(c);
      continue;
    }
    if (was.state === d.state && was.mode === d.mode) continue;
    out.push({
      device: d.name,
      location: d.location,
      cluster: d.cluster,
      source: 'rule',
      reason: 'devices file reloaded',
      by,
      ...c,
      from: was.state,
      to: d.state,
      fromMode: was.mode,
      mode: d.mode,
      at,
    });
  }
  return out;
}
