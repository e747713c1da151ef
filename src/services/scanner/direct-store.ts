import { randomUUID } from 'node:crypto';
import { pipelinePathsEnv } from '../../config/pipeline.js';
import type { CanFrame } from '../../can/frame.js';
import { FrameProcessor } from '../../cea/processor.js';
import { openStore } from '../../store/index.js';
import type { Store } from '../../store/types.js';
import type { Logger } from '../../util/log.js';

/**
 * `canopy scanner --also-store`: every frame is also decoded and written
 * straight to a store, beside the Redis path (the seeds' parallel operation,
 * to compare both paths). Rows get stream ids `direct:<run>:<n>`, so a
 * store shared with the worker holds each frame once per path: point it at
 * its own database to compare.
 */
export class DirectStoreWriter {
  readonly #store: Store;
  readonly #processor = new FrameProcessor({}, pipelinePathsEnv());
  readonly #run = randomUUID().slice(0, 8);
  readonly #log: Logger;
  #n = 0;
  failures = 0;

  private constructor(store: Store, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  static async open(url: string, log: Logger): Promise<DirectStoreWriter> {
    const store = await openStore(url);
    await store.migrate();
    return new DirectStoreWriter(store, log);
  }

  /** Writes one batch; a store failure is counted and logged, never stops the scanner. */
  async write(frames: CanFrame[]): Promise<void> {
    const entries = frames.map((frame) => ({ streamId: `direct:${this.#run}:${++this.#n}`, frame }));
    const r = this.#processor.process(entries);
    try {
      await this.#store.writeBatch({ messages: r.messages, readings: r.readings });
    } catch (err) {
      this.failures++;
      this.#log.warn({ err: (err as Error).message, frames: frames.length }, 'direct store write failed');
    }
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
