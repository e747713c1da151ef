import type { Connection } from '../../bus/connection.js';
import type { Clock } from '../../cea/control/clock.js';
import type { ControlConfig } from '../../cea/control/config.js';
import type { DeviceChange, DeviceStatus } from '../../cea/control/engine.js';
import type { OnOff } from '../../cea/control/config.js';
import type { RelayBank } from '../../hw/relays.js';
import type { Logger } from '../../util/log.js';
import type { StoreSource } from './recorder.js';

export interface AutomationStats {
  readings: number;
  malformedUpdates: number;
  commands: number;
  rejectedCommands: number;
  changes: number;
  writeFailures: number;
  publishFailures: number;
  /** Steps of the wall clock noticed (each re-evaluates every schedule at once). */
  clockSteps: number;
  /** Loads of the schedules and rules applied, and rows skipped as invalid. */
  programLoads: number;
  rejectedPrograms: number;
}

/** Every counter at zero. */
export function newStats(): AutomationStats {
  return {
    readings: 0,
    malformedUpdates: 0,
    commands: 0,
    rejectedCommands: 0,
    changes: 0,
    writeFailures: 0,
    publishFailures: 0,
    clockSteps: 0,
    programLoads: 0,
    rejectedPrograms: 0,
  };
}

/** What the runtime is given besides its options. */
export interface RuntimeParts {
  cfg: ControlConfig;
  bank: RelayBank;
  conn: Connection;
  store: StoreSource | undefined;
  log: Logger;
  clock: Clock;
  /** The relays are a simulated chip (every device:update says so). */
  simulated: boolean;
}

/** What a reload of the devices file applied. */
export interface ReloadResult {
  devices: number;
  setpoints: Record<string, number>;
}

/** The start-up announcement of a device: where its output is now (its safe state). */
export function startedChange(d: DeviceStatus, at: number): DeviceChange {
  return {
    device: d.name,
    location: d.location,
    cluster: d.cluster,
    from: d.state,
    to: d.state,
    fromMode: d.mode,
    mode: d.mode,
    source: 'startup',
    reason: 'automation started: safe state',
    by: 'automation',
    at,
    detail: { label: d.label, kind: d.kind, since: at, source: 'safety', expiresAt: null, held: null },
  };
}

/** The final transition of a device whose output went to its safe state at stop. */
export function stoppedChange(d: DeviceStatus, safe: OnOff, at: number): DeviceChange {
  return {
    ...d,
    device: d.name,
    from: d.state,
    to: safe,
    fromMode: d.mode,
    source: 'startup',
    reason: 'automation stopped: safe state',
    by: 'automation',
    at,
    detail: { label: d.label, kind: d.kind, since: at, source: 'safety', expiresAt: null, held: null },
  };
}
