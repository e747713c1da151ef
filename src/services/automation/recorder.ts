import type { DeviceChange, ControlEvent } from '../../cea/control/engine.js';
import type { Logger } from '../../util/log.js';

/**
 * What the automation needs of the store (src/store's Store has these
 * methods): upsert a device's state with a control history row, and keep
 * setpoints.
 */
export interface ControlStore {
  setDeviceState(s: {
    device: string;
    state: number;
    mode: string;
    location: string | null;
    cluster: string | null;
    by: string | null;
    updatedAt?: number;
    reason?: string;
    source?: string;
  }): Promise<void>;
  setSetpoint(s: { name: string; value: number; by: string | null; updatedAt?: number }): Promise<void>;
  /** Used to restore modes when the Redis state hash is gone. */
  getDeviceStates?(): Promise<{ device: string; state: number; mode: string; by: string | null; updatedAt: number }[]>;
  getSetpoints?(): Promise<{ name: string; value: number }[]>;
  /** Runs several writes in one transaction (SQLite); without it rows are written one by one. */
  writeControlBatch?(fn: (w: ControlWriter) => Promise<void>): Promise<void>;
  /** Newest first; used to see past the clean-stop rows when restoring. */
  controlHistory?(q: {
    device?: string;
    limit?: number;
  }): Promise<{ source: string | null; fromState: number | null }[]>;
  /** Schedules and rules (the `schedules` and `rules` tables). */
  listConfigs?(kind: 'schedules' | 'rules'): Promise<ProgramRow[]>;
  putConfig?(kind: 'schedules' | 'rules', r: Omit<ProgramRow, 'updatedAt'> & { updatedAt?: number }): Promise<void>;
  close(): Promise<void>;
}

/** A row of the `schedules` or `rules` table. */
export interface ProgramRow {
  id: string;
  config: Record<string, unknown>;
  enabled: boolean;
  updatedAt: number;
  by: string | null;
}

/** The `source` of the control history rows a clean stop writes (each output driven to its safe state). */
export const SHUTDOWN_SOURCE = 'shutdown';

type StoredState = Awaited<ReturnType<NonNullable<ControlStore['getDeviceStates']>>>[number];

/**
 * The device states to restore from the store: `device_states` holds the
 * truth (after a clean stop: the safe state the stop drove each output to),
 * so for a device whose last row is the stop's, the state it had before the
 * stop is taken from that row's `from_state`.
 */
export async function deviceStatesToRestore(s: ControlStore): Promise<StoredState[]> {
  const rows = (await s.getDeviceStates?.()) ?? [];
  if (!s.controlHistory) return rows;
  return Promise.all(
    rows.map(async (r) => {
      const [last] = await s.controlHistory!({ device: r.device, limit: 1 });
      return last?.source === SHUTDOWN_SOURCE && last.fromState !== null ? { ...r, state: last.fromState } : r;
    }),
  );
}

/** A store, or how to open one (opened on first use and again after a failure). */
export type StoreSource = ControlStore | (() => Promise<ControlStore>);

/** What one queued history row needs of the store. */
export type ControlWriter = Pick<ControlStore, 'setDeviceState' | 'setSetpoint'>;

type Job = (w: ControlWriter) => Promise<void>;

/** Rows written per transaction when the store can batch. */
const BATCH_ROWS = 200;

export interface RecorderStats {
  recorded: number;
  failed: number;
  dropped: number;
  queued: number;
}

/**
 * Writes device changes, command/failsafe events and setpoints to the
 * store in the background, in order, up to 200 rows per transaction when
 * the store can batch (SQLite). The control loop never waits for it:
 * while the store is down, rows queue (bounded; the oldest are dropped and
 * counted) and are retried with a pause, so a database outage never stops
 * a room.
 */
export class ControlRecorder {
  readonly #source: StoreSource | undefined;
  #store: ControlStore | undefined;
  #opening: Promise<ControlStore> | undefined;
  readonly #log: Logger;
  readonly #max: number;
  readonly #queue: Job[] = [];
  readonly #stats = { recorded: 0, failed: 0, dropped: 0 };
  #running: Promise<void> | undefined;
  #closed = false;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(source: StoreSource | undefined, log: Logger, maxQueued: number) {
    this.#source = source;
    if (source && typeof source !== 'function') this.#store = source;
    this.#log = log;
    this.#max = maxQueued;
  }

  get stats(): RecorderStats {
    return { ...this.#stats, queued: this.#queue.length };
  }

  change(c: DeviceChange, source: string = c.source): void {
    this.#push((s) =>
      s.setDeviceState({
        device: c.device,
        state: c.to,
        mode: c.mode,
        location: c.location,
        cluster: c.cluster,
        by: c.by,
        updatedAt: c.at,
        reason: c.reason,
        source,
      }),
    );
  }

  /** The transition a clean stop made (the output driven to its safe state), so on-time and energy end there. */
  stopped(c: DeviceChange): void {
    this.change(c, SHUTDOWN_SOURCE);
  }

  /** An event about a device (command received, failsafe, fault) as a history row that keeps its state. */
  event(e: ControlEvent, current: { state: number; mode: string; location: string; cluster: string }): void {
    if (!e.device) return;
    const device = e.device;
    this.#push((s) =>
      s.setDeviceState({
        device,
        state: current.state,
        mode: current.mode,
        location: current.location,
        cluster: current.cluster,
        by: e.by ?? 'automation',
        updatedAt: e.at,
        reason: e.message,
        source: e.type,
      }),
    );
  }

  setpoint(name: string, value: number, by: string, at: number): void {
    this.#push((s) => s.setSetpoint({ name, value, by, updatedAt: at }));
  }

  /** Waits until everything queued is written (or the store failed); for tests and stop. */
  async flush(): Promise<void> {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#drain(true);
  }

  /** Writes what is queued (one attempt), then closes a store it opened itself. */
  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
    this.#closed = true;
    if (typeof this.#source === 'function') await this.#store?.close().catch(() => undefined);
  }

  /** The store, opened if need be; rejects while it cannot be reached. */
  store(): Promise<ControlStore> {
    if (this.#store) return Promise.resolve(this.#store);
    const src = this.#source;
    if (!src) return Promise.reject(new Error('no store configured'));
    if (typeof src !== 'function') return Promise.resolve(src);
    this.#opening ??= src()
      .then((s) => {
        if (this.#closed) void s.close();
        this.#store = s;
        return s;
      })
      .finally(() => (this.#opening = undefined));
    return this.#opening;
  }

  #push(fn: Job): void {
    if (!this.#source || this.#closed) return;
    if (this.#queue.length >= this.#max) {
      this.#queue.shift();
      this.#stats.dropped++;
    }
    this.#queue.push(fn);
    if (!this.#retryTimer) void this.#drain(false);
  }

  #drain(once: boolean): Promise<void> {
    this.#running ??= (async () => {
      let slice = performance.now();
      try {
        while (this.#queue.length) {
          try {
            const store = await this.store();
            const n = store.writeControlBatch ? Math.min(BATCH_ROWS, this.#queue.length) : 1;
            const jobs = this.#queue.slice(0, n);
            if (store.writeControlBatch)
              await store.writeControlBatch(async (w) => {
                for (const job of jobs) await job(w);
              });
            else await jobs[0]!(store);
            // rows dropped meanwhile (queue full) may have been among them: remove what is still at the front
            const done = new Set(jobs);
            while (this.#queue.length && done.has(this.#queue[0]!)) this.#queue.shift();
            this.#stats.recorded += n;
            // A synchronous store (SQLite) must not starve the control loop: yield between batches,
            // and after 2 ms of writing pause 8 ms (at most ~20% of the loop goes to history).
            if (performance.now() - slice > 2) {
              await new Promise<void>((r) => setTimeout(r, once ? 0 : 8));
              slice = performance.now();
            } else await new Promise<void>((r) => setImmediate(r));
          } catch (err) {
            this.#stats.failed++;
            this.#log.warn({ err: (err as Error).message, queued: this.#queue.length }, 'control history write failed');
            if (!once && !this.#closed) {
              this.#retryTimer = setTimeout(() => {
                this.#retryTimer = undefined;
                void this.#drain(false);
              }, 2000);
              this.#retryTimer.unref();
            }
            return;
          }
        }
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }
}
