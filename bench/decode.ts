/**
 * `npm run bench -- decode`: the CPU side of the CAN pipeline, no I/O, one core.
 *  - stream_parse_per_s: `parseStreamFields` of `can:raw` field sets
 *  - dbc_decode_per_s: compiled DBC decoding of default-protocol frames (`decodeValues`)
 *  - processor_per_s: parse + `FrameProcessor.process` in batches of 1,000 (decode, calibrate,
 *    validate, derive rh/vpd, build rows and updates): the worker's CPU work per frame
 *  - candump_parse_per_s: `parseCandumpLine` of `candump -L` lines
 *  - simulator_flat_out_per_s: frames the flat-out simulator generates
 * 200,000 simulated frames; three rounds after a warm-up, medians reported.
 */
import { formatCandumpLine, parseCandumpLine } from '../src/can/candump.js';
import { DbcDecoder } from '../src/can/dbc/index.js';
import { frameToStreamFields, parseStreamFields, type CanFrame } from '../src/can/frame.js';
import { SimulatorSource } from '../src/can/sources/index.js';
import { loadPipelineConfig } from '../src/cea/config.js';
import { FrameProcessor } from '../src/cea/processor.js';
import type { ProcessorEntry } from '../src/cea/types.js';

const N = 200_000;
const BATCH = 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function rate(fn: () => number): number {
  fn(); // warm-up
  const rounds: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    const n = fn();
    rounds.push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return Math.round(median(rounds));
}

export async function run(): Promise<Record<string, number>> {
  const frames: CanFrame[] = [];
  const sim = new SimulatorSource({ flatOut: true, batchSize: BATCH });
  const t0 = process.hrtime.bigint();
  for await (const b of sim.batches()) {
    frames.push(...b);
    if (frames.length >= N) break;
  }
  const simRate = frames.length / (Number(process.hrtime.bigint() - t0) / 1e9);
  await sim.close();

  const fields = frames.map(frameToStreamFields);
  const lines = frames.map((f) => formatCandumpLine(f));
  const config = loadPipelineConfig();
  const decoder = new DbcDecoder(config.dbc);

  const streamParse = rate(() => {
    for (const f of fields) parseStreamFields(f);
    return fields.length;
  });
  const dbcDecode = rate(() => {
    for (const f of frames) decoder.get(f.id, f.extended)?.decodeValues(f.data, {});
    return frames.length;
  });
  const candump = rate(() => {
    for (const l of lines) parseCandumpLine(l);
    return lines.length;
  });
  let seq = 0;
  const processor = new FrameProcessor(config);
  const proc = rate(() => {
    for (let i = 0; i < fields.length; i += BATCH) {
      const entries: ProcessorEntry[] = [];
      for (let j = i; j < Math.min(i + BATCH, fields.length); j++) {
        const frame = parseStreamFields(fields[j] as (typeof fields)[number]);
        if (frame instanceof Error) throw frame;
        entries.push({ streamId: `1700000000000-${seq++}`, frame });
      }
      processor.process(entries);
    }
    return fields.length;
  });
  return {
    frames: frames.length,
    stream_parse_per_s: streamParse,
    dbc_decode_per_s: dbcDecode,
    processor_per_s: proc,
    candump_parse_per_s: candump,
    simulator_flat_out_per_s: Math.round(simRate),
  };
}
