import type { DeviceConfig, Mode, OnOff } from './config.js';
import type { ControllerMemory } from './controllers.js';
import type { BlockReason, GuardSnapshot, RelayGuard } from './safety.js';
import type { CycleState } from '../../contracts/commands.js';

/** Why an output changed (the control history's `source`). */
export type ChangeSource = 'rule' | 'schedule' | 'manual' | 'failsafe' | 'safety' | 'mode' | 'startup';

/** What became of a device command, told on the `device:update` that answers it. */
export interface CommandAnswer {
  /** The command's entry id on `actuators:commands`. */
  id: string;
  outcome: 'applied' | 'held' | 'refused';
  reason: string;
}

/**
 * What a dashboard shows beside a device's state (DeviceUpdate's optional
 * fields), as of the evaluation that produced the change or notice.
 * Times in wall-clock ms.
 */
export interface DeviceDetail {
  label: string;
  kind: string;
  /** When the output last switched. */
  since: number;
  /** What set the current state. */
  source: 'schedule' | 'rule' | 'manual' | 'mode' | 'safety' | 'failsafe';
  /** When a manual or off mode returns to auto; null in auto or "until changed". */
  expiresAt: number | null;
  /** A switch held back by min on/off time or the start limit. */
  held: { want: OnOff; until: number; why: string } | null;
}

/** A change of a device's output or mode: one `device:update` and one control history row. */
export interface DeviceChange {
  device: string;
  location: string;
  cluster: string;
  from: OnOff;
  to: OnOff;
  fromMode: Mode;
  mode: Mode;
  source: ChangeSource;
  reason: string;
  /** Who caused it: `automation`, or the sender of a command. */
  by: string;
  /** Wall-clock ms (written out). */
  at: number;
  /** The device's details after the evaluation (set by the engine). */
  detail?: DeviceDetail;
  /** Set on the change that answers a command. */
  command?: CommandAnswer;
}

/**
 * Why a device is not doing what was asked, without a change of its output
 * (a hold-back, a refused command): published as a `device:update` with
 * the device's current state and `reason`.
 */
export interface DeviceNotice {
  device: string;
  location: string;
  cluster: string;
  state: OnOff;
  mode: Mode;
  reason: string;
  /** Wall-clock ms. */
  at: number;
  detail?: DeviceDetail;
  /** Set on the notice that answers a command. */
  command?: CommandAnswer;
}

export type EventType =
  | 'failsafe'
  | 'recovered'
  | 'blocked'
  | 'command'
  | 'setpoint'
  | 'expired'
  | 'fault'
  | 'restored'
  | 'limit'
  | 'programs'
  | 'cycle';

/** Something worth telling an operator (published on `automation:events`, kept in the control history). */
export interface ControlEvent {
  type: EventType;
  device?: string;
  message: string;
  by?: string;
  /** Wall-clock ms. */
  at: number;
}

/** A device's state as the API shows it (times in wall-clock ms). */
export interface DeviceStatus {
  name: string;
  /** Friendly name (`label:`, default the name). */
  label: string;
  location: string;
  cluster: string;
  kind: string;
  state: OnOff;
  mode: Mode;
  modeExpiresAt: number | null;
  modeBy: string;
  reason: string;
  failsafe: boolean;
  blocked: BlockReason | null;
  fault: string | null;
  since: number;
  /** What set the current state. */
  source: DeviceDetail['source'];
  /** A switch held back (min on/off, start limit); `until` wall-clock ms. */
  held: DeviceDetail['held'];
}

/** What is persisted per device so a restart can restore it (times in wall-clock ms: monotonic time restarts at a reboot). */
export interface DeviceSnapshot {
  mode: Mode;
  manualState: OnOff;
  /** Wall-clock deadline of a manual or off mode; null: until changed. */
  modeExpiresAt: number | null;
  /** How long the mode was granted for (a restored deadline never runs longer). */
  modeTtlMs?: number | null;
  modeBy: string;
  state: OnOff;
  guard: GuardSnapshot;
}

export interface EngineSnapshot {
  devices: Record<string, DeviceSnapshot>;
  setpoints: Record<string, number>;
  /** location → its grow cycle (persisted as `_cycles`). */
  cycles?: Record<string, CycleState>;
}

export interface EvaluateResult {
  changes: DeviceChange[];
  events: ControlEvent[];
  /** Hold-backs that started (or changed) in this evaluation. */
  notices?: DeviceNotice[];
}

/** A device's live state inside the engine (times monotonic). */
export interface Runtime {
  cfg: DeviceConfig;
  guard: RelayGuard;
  mem: ControllerMemory;
  mode: Mode;
  manualState: OnOff;
  /** Monotonic deadline of a manual or off mode; null: until changed. */
  modeExpiresAt: number | null;
  /** The duration granted with the mode (a restored deadline never runs longer). */
  modeTtlMs: number | null;
  modeBy: string;
  reason: string;
  failsafe: boolean;
  limited: boolean;
  blocked: BlockReason | null;
  blockedWant: boolean;
  fault: string | null;
  published: { state: OnOff; mode: Mode };
  /** What set the current state (DeviceUpdate `source`). */
  source: DeviceDetail['source'];
  /** Monotonic ms when `reason` was last told (published with a change or a notice). */
  reasonAt: number;
  /** A switch held back (min on/off, start limit): what it wants, monotonic deadline, why. */
  held: { want: OnOff; until: number; why: string } | null;
}
