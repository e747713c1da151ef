import { createClient } from 'redis';
import type { CanFrame } from '../../../src/can/frame.js';
import { frameToStreamFields } from '../../../src/can/frame.js';
import { encodePt100 } from '../../../src/can/protocol.js';
import { createLogger } from '../../../src/util/log.js';

export type Raw = ReturnType<typeof createClient>;

export async function rawClient(url: string): Promise<Raw> {
  const c = createClient({ url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/**
 * `n` PT100 frames of nodes 1–3, 1 ms apart and ending now: every frame has
 * its own timestamp, so `COUNT(DISTINCT timestamp)` tells duplicates apart.
 */
export function pt100Frames(n: number): CanFrame[] {
  const t0 = Date.now() - n;
  return Array.from({ length: n }, (_, i) =>
    encodePt100(1 + (i % 3), 20 + (i % 50) / 10, 18 + (i % 40) / 10, 0, t0 + i),
  );
}

/** XADDs frames with exactly the contract fields, pipelined. */
export async function xaddFrames(c: Raw, frames: CanFrame[], stream = 'can:raw'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < frames.length; i += 1000) {
    const m = c.multi();
    for (const f of frames.slice(i, i + 1000)) {
      m.xAdd(stream, '*', frameToStreamFields(f) as unknown as Record<string, string>);
    }
    ids.push(...((await m.execAsPipeline()) as unknown as string[]));
  }
  return ids;
}

/** Polls `fn` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const quietLogger = () => createLogger('test', 'silent');
