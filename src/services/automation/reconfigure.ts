import type { Instant } from '../../cea/control/clock.js';
import type { ControlConfig, DeviceConfig } from '../../cea/control/config.js';
import { ControlEngine } from '../../cea/control/engine.js';

/** A new devices file that cannot be applied while running (the old configuration stays in force). */
export class ReloadRefusedError extends Error {
  readonly code = 'AUTOMATION_RELOAD_REFUSED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReloadRefusedError';
  }
}

const wiring = (d: DeviceConfig) =>
  `${d.output.address}/${d.output.port}${d.output.pin}${d.output.activeLow ? '/low' : ''} safe ${d.safeState}`;

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
    else if (wiring(old) !== wiring(d)) out.push(`device ${name}: output or safe state changed`);
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
  engine.restore({ devices: snap.devices, setpoints }, now);
  engine.setPrograms(old.programs(), now, by);
  for (const s of old.sensors()) {
    const r = old.reading(s);
    if (r) engine.ingest(s, r.value, r.at, r.ts);
  }
  return engine;
}
