import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatCandumpLine } from '../../src/can/candump.js';
import { FrameError } from '../../src/can/errors.js';
import { makeFrame, type CanFrame } from '../../src/can/frame.js';
import { LineSplitter } from '../../src/can/sources/line-splitter.js';
import { PipeSource, ReplaySource, type FrameSource } from '../../src/can/sources/index.js';
import { tempDir } from '../support/tmp.js';

const MB = 1024 * 1024;
const good = (n: number) => formatCandumpLine(makeFrame(0x101, [n, 0, 0, 0], 1_700_000_000_000 + n));

async function collect(src: FrameSource): Promise<CanFrame[]> {
  const out: CanFrame[] = [];
  for await (const b of src.batches()) out.push(...b);
  return out;
}

function memory(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('line-length cap before buffering', () => {
  it('LineSplitter: a 100 MB line without a newline is never held; the lines around it come through', () => {
    const lines: string[] = [];
    const over: Array<{ bytes: number; head: string }> = [];
    const s = new LineSplitter(
      1024,
      (l) => lines.push(l),
      (bytes, head) => over.push({ bytes, head }),
    );
    const chunk = Buffer.alloc(MB, 0x41); // one buffer, pushed 100 times: only buffering could grow memory
    s.push('first\r\nsecond\n');
    global.gc?.();
    const before = memory();
    let peak = before;
    for (let i = 0; i < 100; i++) {
      s.push(chunk);
      peak = Math.max(peak, memory());
    }
    s.push('\nthird');
    s.end();
    expect(lines).toEqual(['first', 'second', 'third']);
    expect(over).toEqual([{ bytes: 100 * MB, head: 'A'.repeat(64) }]);
    expect(peak - before).toBeLessThan(20 * MB);
  });

  it('LineSplitter: exactly at the cap is a line, one byte more is not; split across chunks', () => {
    const lines: string[] = [];
    let over = 0;
    const s = new LineSplitter(
      8,
      (l) => lines.push(l),
      () => over++,
    );
    s.push('1234');
    s.push('5678\n1234');
    s.push('56789\nok\n');
    expect(lines).toEqual(['12345678', 'ok']);
    expect(over).toBe(1);
  });

  it('PipeSource (stdin): an oversized line is counted and reported, the frames around it are kept', async () => {
    const input = new PassThrough();
    const bad: FrameError[] = [];
    const src = new PipeSource(input, { onBadLine: (_l, e) => bad.push(e), maxLineBytes: 4096 });
    const done = collect(src);
    input.write(`${good(1)}\n`);
    const chunk = Buffer.alloc(MB, 0x31);
    for (let i = 0; i < 20; i++) {
      if (!input.write(chunk)) await new Promise((r) => input.once('drain', r));
    }
    input.end(`\n${good(2)}\n`);
    const frames = await done;
    expect(frames.map((f) => f.data[0])).toEqual([1, 2]);
    expect(src.stats().badLines).toEqual({ OVERSIZED: 1 });
    expect(bad[0]).toBeInstanceOf(FrameError);
    expect(bad[0]!.code).toBe('OVERSIZED');
  });

  it('ReplaySource: an oversized line in a log file is counted, the rest replays', async () => {
    const file = path.join(tempDir(), 'capture.log');
    fs.writeFileSync(file, `${good(1)}\n${'x'.repeat(3 * MB)}\n${good(2)}\n${good(3)}`);
    const src = new ReplaySource({ path: file });
    const frames = await collect(src);
    expect(frames.map((f) => f.data[0])).toEqual([1, 2, 3]);
    expect(src.stats().badLines).toEqual({ OVERSIZED: 1 });
  });
});
