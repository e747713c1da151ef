import fs from 'node:fs';
import { YamlSource } from '../../cea/config-errors.js';
import { DeviceConfigError, validateDevicesConfig, type ControlConfig } from '../../cea/control/config.js';
import type { EnergyPrice } from '../../cea/energy.js';
import { checkTargets, type TargetsFile } from '../../cea/targets.js';

/** What the rooms, cycle and energy routes read from the devices file. */
export interface RoomConfig {
  control: ControlConfig;
  targets: TargetsFile | undefined;
  energy: EnergyPrice | undefined;
  /** `rooms:` — hard limits per location (numbers or setpoint names). */
  limits: Record<string, { maxTemp?: number | string; co2Ceiling?: number | string }> | undefined;
  /** Device name → friendly label (`label:`, else the name). */
  deviceLabels: Map<string, string>;
}

interface RawFile {
  targets?: TargetsFile;
  energy?: EnergyPrice;
  rooms?: RoomConfig['limits'];
  devices?: { name?: string; label?: string }[];
}

/**
 * Reads and validates the devices file (the automation's checks, then the
 * `targets:` block's); throws the config error (DeviceConfigError,
 * TargetsConfigError) that lists every problem.
 */
export function loadRoomConfig(file: string): RoomConfig {
  const text = fs.readFileSync(file, 'utf8');
  const yaml = YamlSource.parse(text, file);
  if ('problem' in yaml) throw new DeviceConfigError(file, [yaml.problem]);
  const control = validateDevicesConfig(yaml.value, file, yaml);
  const raw = (yaml.value ?? {}) as RawFile;
  checkTargets(raw.targets, control, file);
  const deviceLabels = new Map<string, string>();
  for (const d of raw.devices ?? []) if (d.name) deviceLabels.set(d.name, d.label ?? d.name);
  return { control, targets: raw.targets, energy: raw.energy, limits: raw.rooms, deviceLabels };
}

/** The stages a location may be set to: its VPD controllers' stages, its `targets:` stages, its `stages:` entry. */
export function stagesOf(config: RoomConfig, location: string): string[] {
  const out = new Set<string>();
  for (const d of config.control.devices)
    if (d.location === location && d.control?.type === 'vpd')
      for (const s of Object.keys(d.control.targets)) out.add(s);
  for (const s of Object.keys(config.targets?.[location] ?? {})) out.add(s);
  const fixed = config.control.stages?.[location];
  if (fixed) out.add(fixed);
  return [...out];
}
