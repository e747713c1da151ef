import { Ajv } from 'ajv';
import type { Static } from '@sinclair/typebox';
import type { Mode } from './config.js';
import {
  CycleCommandSchema,
  DeviceCommandSchema,
  ReloadCommandSchema,
  SetpointCommandSchema,
  type CycleCommand,
  type DeviceCommand,
  type ReloadCommand,
  type SetpointCommand,
} from '../../contracts/commands.js';

export { CycleCommandSchema, DeviceCommandSchema, ReloadCommandSchema, SetpointCommandSchema };
export type { CycleCommand, DeviceCommand, ReloadCommand, SetpointCommand };

export type ParsedCommand =
  | { ok: true; kind: 'device'; command: DeviceCommand }
  | { ok: true; kind: 'setpoint'; command: SetpointCommand }
  | { ok: true; kind: 'reload'; command: ReloadCommand }
  | { ok: true; kind: 'cycle'; command: CycleCommand }
  | { ok: false; error: string };

/** Validates commands; one compiled validator per instance (no module-level state). */
export class CommandParser {
  readonly #device;
  readonly #setpoint;
  readonly #reload;
  readonly #cycle;

  constructor() {
    const ajv = new Ajv({ allErrors: false, strict: false });
    this.#device = ajv.compile<Static<typeof DeviceCommandSchema>>(DeviceCommandSchema);
    this.#setpoint = ajv.compile<SetpointCommand>(SetpointCommandSchema);
    this.#reload = ajv.compile<ReloadCommand>(ReloadCommandSchema);
    this.#cycle = ajv.compile<CycleCommand>(CycleCommandSchema);
  }

  /** Parses raw JSON text or an already decoded value. */
  parse(input: unknown): ParsedCommand {
    let v = input;
    if (typeof input === 'string' || Buffer.isBuffer(input)) {
      try {
        v = JSON.parse(String(input));
      } catch {
        return { ok: false, error: 'command is not JSON' };
      }
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      return { ok: false, error: 'command must be a JSON object' };
    if ('reload' in v) {
      if (this.#reload(v)) return { ok: true, kind: 'reload', command: v };
      return { ok: false, error: `reload command ${ajvMessage(this.#reload.errors)}` };
    }
    if ('cycle' in v) {
      if (this.#cycle(v)) return { ok: true, kind: 'cycle', command: v };
      return { ok: false, error: `cycle command ${ajvMessage(this.#cycle.errors)}` };
    }
    if ('setpoint' in v) {
      if (this.#setpoint(v)) return { ok: true, kind: 'setpoint', command: v };
      return { ok: false, error: `setpoint command ${ajvMessage(this.#setpoint.errors)}` };
    }
    if (!this.#device(v)) return { ok: false, error: `device command ${ajvMessage(this.#device.errors)}` };
    const mode: Mode = v.mode ?? (v.state !== undefined ? 'manual' : 'auto');
    if (v.mode === undefined && v.state === undefined)
      return { ok: false, error: 'device command needs "mode" or "state"' };
    if (mode === 'manual' && v.state === undefined) return { ok: false, error: 'manual mode needs "state" (0 or 1)' };
    if (mode === 'auto' && (v.ttl_s !== undefined || v.until_changed))
      return { ok: false, error: '"ttl_s" and "until_changed" apply to manual and off modes only' };
    if (v.ttl_s !== undefined && v.until_changed)
      return { ok: false, error: 'give either "ttl_s" or "until_changed", not both' };
    const command: DeviceCommand = { device: v.device, mode, by: v.by };
    if (mode === 'manual') command.state = v.state;
    if (v.ttl_s !== undefined) command.ttl_s = v.ttl_s;
    if (v.until_changed) command.until_changed = true;
    return { ok: true, kind: 'device', command };
  }
}

function ajvMessage(
  errors:
    { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }[] | null | undefined,
): string {
  const e = errors?.[0];
  if (!e) return 'is invalid';
  if (e.keyword === 'additionalProperties') return `has unknown field "${String(e.params.additionalProperty)}"`;
  if (e.keyword === 'required') return `misses "${String(e.params.missingProperty)}"`;
  return `${e.instancePath.replace(/^\//, '') || 'value'} ${e.message ?? 'is invalid'}`;
}
