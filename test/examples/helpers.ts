import { spawn, type ChildProcess } from 'node:child_process';
import { encode } from '@msgpack/msgpack';
import { expect } from 'vitest';
import type { Connection } from '../../src/bus/connection.js';
import { UserCodec, type PredictionMessage } from '../../src/contracts/user-channels.js';
import { UserChannels } from '../../src/client/index.js';

export const codec = new UserCodec();

export async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Raw messages no consumer may accept (each must be counted and skipped). */
export function malformedPayloads(): (Buffer | string)[] {
  return [
    Buffer.from([0xc1, 0x02]), // never valid MessagePack
    Buffer.from(encode([1, 2, 3])), // not a map
    codec.encode({ type: 'raw', timestamp: 1 }), // no channels
    codec.encode({ type: 'raw', timestamp: 1, channels: { Ch0: 'hot' } }), // text sample
    Buffer.from(encode({ type: 'raw', timestamp: 1, channels: { Ch0: NaN } })), // non-finite float
    '{"type":"raw", "timestamp": 1, "channels": {', // broken JSON
  ];
}

/** alice: one sample per message, Ch0 = 2i + 1 (i = 0…19); bob: four blocks of five samples of 7. */
export function rampAndBlocks(): { user: string; payload: Buffer; timestamp: number }[] {
  const out: { user: string; payload: Buffer; timestamp: number }[] = [];
  for (let i = 0; i < 20; i++) {
    const timestamp = 1_700_000_000 + i / 10;
    out.push({
      user: 'alice',
      timestamp,
      payload: codec.encode({ type: 'raw', timestamp, channels: { Ch0: 2 * i + 1 } }),
    });
  }
  for (let b = 0; b < 4; b++) {
    const timestamp = 1_700_000_100 + b;
    out.push({
      user: 'bob',
      timestamp,
      payload: codec.encode({ type: 'raw', timestamp, channels: { Ch0: [7, 7, 7, 7, 7] } }),
    });
  }
  return out;
}

/**
 * Subscribes to the users' prediction channels with Canopy's client, which
 * checks every message against the `user:{id}:predictions` shape (docs/contracts.md): a prediction
 * that arrives here has it (a malformed one is counted in `stats.malformed`).
 */
export async function collectPredictions(
  url: string,
  users: string[],
): Promise<{ got: Record<string, PredictionMessage[]>; channels: UserChannels }> {
  const got: Record<string, PredictionMessage[]> = Object.fromEntries(users.map((u) => [u, []]));
  const channels = await UserChannels.connect({ redis: { url } });
  for (const u of users) await channels.subscribe(u, 'predictions', (m) => void got[u]!.push(m));
  return { got, channels };
}

/** The payloads of the users' prediction channels as they are on the wire (to check the encoding). */
export async function rawPredictionBytes(
  conn: Connection,
  users: string[],
): Promise<{ bytes: Buffer[]; close: () => Promise<void> }> {
  const bytes: Buffer[] = [];
  const sub = conn.client.duplicate();
  await sub.connect();
  for (const u of users) await sub.subscribe(`user:${u}:predictions`, (m: Buffer) => void bytes.push(m), true);
  return { bytes, close: () => sub.quit().then(() => undefined) };
}

/** The expected forecasts of {@link rampAndBlocks} with window 10, step 5, horizon 5. */
export function expectRampForecasts(got: Record<string, PredictionMessage[]>, source: string): void {
  const alice = got.alice!;
  const bob = got.bob!;
  expect(alice).toHaveLength(3);
  expect(bob).toHaveLength(3);
  for (const p of [...alice, ...bob]) {
    expect(p).toMatchObject({ type: 'prediction', prediction_type: 'forecast', source });
    expect(p.confidence).toBeCloseTo(1, 9);
    expect(p.data).toMatchObject({ model: 'linear', window: 10, horizon: 5 });
  }
  // after samples 0…9, 5…14 and 10…19 of Ch0 = 2i + 1: the line is exact, 5 samples ahead of i
  for (const [k, last] of [9, 14, 19].entries()) {
    const ch = (alice[k]!.data.channels as Record<string, Record<string, number>>).Ch0!;
    expect(ch.last).toBe(2 * last + 1);
    expect(ch.slope).toBeCloseTo(2, 9);
    expect(ch.mean).toBeCloseTo(2 * (last - 4.5) + 1, 9);
    expect(ch.forecast).toBeCloseTo(2 * (last + 5) + 1, 9);
    expect(alice[k]!.timestamp).toBeCloseTo(1_700_000_000 + last / 10, 6);
  }
  for (const p of bob) {
    expect(p.data.channels).toEqual({ Ch0: { last: 7, mean: 7, slope: 0, forecast: 7, r2: 1 } });
    expect(p.confidence).toBe(1);
  }
  expect(bob.map((p) => p.timestamp)).toEqual([1_700_000_101, 1_700_000_102, 1_700_000_103]);
}

/** Collects a child's output and resolves when `text` appears on stderr. */
export function watchChild(child: ChildProcess): {
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
  waitErr: (text: string, ms?: number) => Promise<void>;
} {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    out: () => out,
    err: () => err,
    exited,
    waitErr: (text, ms = 60_000) => until(() => err.includes(text), `"${text}" on stderr; stderr so far:\n${err}`, ms),
  };
}

export { spawn };
