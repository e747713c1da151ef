import type { Readable } from 'node:stream';
import { SourceError } from '../errors.js';
import { ReplaySource, type ReplayOptions } from './replay.js';
import { SimulatorSource, type SimulatorOptions } from './simulator.js';
import { PipeSource, SocketCanSource, type SocketCanOptions } from './socketcan.js';
import type { FrameSource, LineSourceOptions } from './types.js';

export * from './types.js';
export { LineBatcher } from './lines.js';
export { SimulatorSource, busFramesPerSecond, seededRandom, stullWetBulb } from './simulator.js';
export type { SimulatorOptions, SimulatorStats } from './simulator.js';
export { SocketCanSource, PipeSource, type SocketCanOptions } from './socketcan.js';
export { ReplaySource, type ReplayOptions } from './replay.js';

export type SourceSpec =
  | { kind: 'simulator'; options?: Partial<SimulatorOptions> }
  | { kind: 'socketcan'; options: Partial<SocketCanOptions> & { iface: string } }
  | { kind: 'replay'; options: Partial<ReplayOptions> & { path: string } }
  | { kind: 'pipe'; input: Readable; options?: Partial<LineSourceOptions> };

/**
 * Parses a source written as text (a CLI flag or config value):
 *
 * - `simulator`, `simulator:<frames per second>`, `simulator:saturated`, `simulator:flat-out`
 * - `socketcan:<iface>` (e.g. `socketcan:can0`)
 * - `replay:<path>` (as fast as possible) or `replay:<path>@<speed>` (1 = real time)
 * - `stdin` (candump -L lines on standard input)
 */
export function parseSourceSpec(text: string): SourceSpec {
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const arg = colon < 0 ? '' : text.slice(colon + 1);
  switch (kind) {
    case 'simulator':
    case 'sim': {
      if (arg === '') return { kind: 'simulator' };
      if (arg === 'saturated') return { kind: 'simulator', options: { rate: 'saturated' } };
      if (arg === 'flat-out') return { kind: 'simulator', options: { flatOut: true } };
      const rate = Number(arg);
      if (!(rate > 0))
        throw new SourceError('SOURCE_CONFIG', `simulator rate ${JSON.stringify(arg)} is not a positive number`);
      return { kind: 'simulator', options: { rate } };
    }
    case 'socketcan':
    case 'can':
      if (arg === '') throw new SourceError('SOURCE_CONFIG', 'socketcan needs an interface: socketcan:can0');
      return { kind: 'socketcan', options: { iface: arg } };
    case 'replay': {
      const m = /^(.*?)(?:@(\d+(?:\.\d+)?|max))?$/.exec(arg);
      const path = m?.[1] ?? '';
      if (path === '') throw new SourceError('SOURCE_CONFIG', 'replay needs a file: replay:capture.log[@speed]');
      const speed = m?.[2] === undefined || m[2] === 'max' ? 'max' : Number(m[2]);
      return { kind: 'replay', options: { path, speed } };
    }
    case 'stdin':
      return { kind: 'pipe', input: process.stdin };
    default:
      throw new SourceError(
        'SOURCE_CONFIG',
        `unknown frame source ${JSON.stringify(text)}: use simulator[:rate], socketcan:<iface>, replay:<file>[@speed] or stdin`,
      );
  }
}

export function createFrameSource(spec: SourceSpec): FrameSource {
  switch (spec.kind) {
    case 'simulator':
      return new SimulatorSource(spec.options);
    case 'socketcan':
      return new SocketCanSource(spec.options);
    case 'replay':
      return new ReplaySource(spec.options);
    case 'pipe':
      return new PipeSource(spec.input, spec.options);
  }
}
