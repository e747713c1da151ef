import { validateDevicesConfig, type ControlConfig } from '../../../src/cea/control/config.js';

let pin = 0;
/** A device entry with an output of its own. */
export function dev(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const p = pin++;
  return {
    name,
    location: 'Flower Room',
    cluster: 'front',
    kind: 'relay',
    output: { address: 0x20 + ((p >> 4) % 8), port: p & 8 ? 'B' : 'A', pin: p & 7 },
    safeState: 0,
    ...extra,
  };
}

export function config(doc: Record<string, unknown>): ControlConfig {
  return validateDevicesConfig(doc, 'test');
}

export const NO_LIMITS = { minOnS: 0, minOffS: 0, maxOnS: 0, maxStarts: 0, staleAfterS: 30 };
