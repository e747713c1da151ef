/**
 * The worker pipeline's store writer against a real SQLite store: batches
 * arriving while the writer is idle wait `commitDelayMs` and share one
 * transaction and one ack; queued batches merge up to `maxFramesPerCommit`.
 * Live keys and `sensor:update` are not under test here (stubs count calls).
 */
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { LiveState } from '../../../src/bus/state.js';
import type { Publisher } from '../../../src/bus/topics.js';
import { frameToStreamFields } from '../../../src/can/frame.js';
import { encodeScd30 } from '../../../src/can/protocol.js';
import { FrameProcessor } from '../../../src/cea/processor.js';
import { WorkerPipeline, type PipelineOptions, type RawEntry } from '../../../src/services/worker/pipeline.js';
import { openStore } from '../../../src/store/index.js';
import type { Store } from '../../../src/store/types.js';
import { tempDir } from '../../support/tmp.js';

let seq = 0;
function entries(n: number): RawEntry[] {
  return Array.from({ length: n }, () => {
    seq++;
    return {
      id: `${1_700_000_000_000 + seq}-0`,
      fields: frameToStreamFields(encodeScd30(1, 700 + (seq % 300), 22, 60, Date.now())),
    };
  });
}

async function setup(options: Partial<PipelineOptions>) {
  const store = await openStore(`sqlite:${path.join(tempDir(), 'w.db')}`, { sweepIntervalMs: 0 });
  await store.migrate();
  let commits = 0;
  const counting: Store = Object.create(store) as Store;
  counting.writeBatch = async (b) => {
    commits++;
    return store.writeBatch(b);
  };
  const acks: string[][] = [];
  const published: number[] = [];
  const pipeline = new WorkerPipeline(
    {
      processor: new FrameProcessor(),
      live: { write: async () => undefined } as unknown as LiveState,
      publisher: {
        publishTopics: async (items: unknown[]) => {
          published.push(items.length);
          return [];
        },
      } as unknown as Publisher,
      store: counting,
      logger: pino({ level: 'silent' }),
      ack: async (ids) => void acks.push(ids),
      release: () => undefined,
    },
    options,
  );
  return { store, pipeline, acks, published, commits: () => commits };
}

describe('the worker pipeline groups commits', () => {
  it('single-frame batches within commitDelayMs share one transaction and one XACK; updates go out at once', async () => {
    const { store, pipeline, acks, published, commits } = await setup({ commitDelayMs: 200 });
    const sent = [entries(1), entries(1), entries(1), entries(1), entries(1)];
    for (const e of sent) await pipeline.handle(e, true);
    expect(published).toHaveLength(5); // live updates are not held back by the delay
    expect(commits()).toBe(0); // nothing committed yet: the writer waits for more
    await pipeline.close(); // a stop writes what waits
    expect(commits()).toBe(1);
    expect(acks).toEqual([sent.flat().map((e) => e.id)]);
    expect(await store.countReadings()).toBe(5 * 3); // co2, temperature, humidity per SCD30 frame
    await store.close();
  });

  it('the delay runs out by itself; later batches start a new group', async () => {
    const { store, pipeline, acks, commits } = await setup({ commitDelayMs: 30 });
    await pipeline.handle(entries(2), true);
    await pipeline.handle(entries(3), true);
    for (let i = 0; i < 100 && acks.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(acks.map((a) => a.length)).toEqual([5]);
    await pipeline.handle(entries(4), true);
    for (let i = 0; i < 100 && acks.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(acks.map((a) => a.length)).toEqual([5, 4]);
    expect(commits()).toBe(2);
    await pipeline.close();
    await store.close();
  });

  it('merged transactions stop at maxFramesPerCommit; a batch larger than that goes alone', async () => {
    const { store, pipeline, acks } = await setup({ commitDelayMs: 10_000, maxFramesPerCommit: 5 });
    for (const n of [2, 3, 1, 7, 2]) await pipeline.handle(entries(n), true);
    await pipeline.close();
    expect(acks.map((a) => a.length)).toEqual([5, 1, 7, 2]);
    expect(await store.countReadings()).toBe(15 * 3);
    await store.close();
  });

  it('at commitDelayMs 0 each batch is written at once', async () => {
    const { store, pipeline, acks } = await setup({ commitDelayMs: 0 });
    await pipeline.handle(entries(1), true);
    for (let i = 0; i < 100 && acks.length < 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(acks).toHaveLength(1);
    await pipeline.close();
    await store.close();
  });
});
