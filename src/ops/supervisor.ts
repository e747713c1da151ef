import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { backoffDelay } from '../bus/options.js';

/** One child the supervisor keeps running. */
export interface ChildSpec {
  name: string;
  /** Arguments after `node`, e.g. `[cliPath, 'worker']`. */
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Resolves when the child is ready for the next one to start (optional). */
  ready?: () => Promise<void>;
}

export interface SupervisorOptions {
  /** @defaultValue 500 — first restart delay; doubles per crash in a row. */
  restartBaseMs: number;
  /** @defaultValue 30000 — ceiling of the restart delay. */
  restartMaxMs: number;
  /** @defaultValue 60000 — a child up this long has its crash count reset. */
  stableAfterMs: number;
  /** @defaultValue 15000 — SIGKILL a child that ignores SIGTERM this long. */
  stopTimeoutMs: number;
  /** @defaultValue `node` of this process */
  nodePath: string;
}

export const SUPERVISOR_DEFAULTS: SupervisorOptions = {
  restartBaseMs: 500,
  restartMaxMs: 30_000,
  stableAfterMs: 60_000,
  stopTimeoutMs: 15_000,
  nodePath: process.execPath,
};

interface Slot {
  spec: ChildSpec;
  child?: ChildProcess;
  crashes: number;
  startedAt: number;
  timer?: NodeJS.Timeout;
}

export interface SupervisorEvents {
  start: [name: string, pid: number];
  exit: [name: string, code: number | null, signal: NodeJS.Signals | null];
  restart: [name: string, delayMs: number, crashes: number];
}

/**
 * Starts children in order, restarts a crashed one with exponential
 * backoff, and stops them all in reverse order on {@link stop}.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly options: SupervisorOptions;
  readonly #slots: Slot[] = [];
  #stopping = false;

  constructor(options: Partial<SupervisorOptions> = {}) {
    super();
    this.options = { ...SUPERVISOR_DEFAULTS, ...options };
  }

  async add(spec: ChildSpec): Promise<void> {
    const slot: Slot = { spec, crashes: 0, startedAt: 0 };
    this.#slots.push(slot);
    this.#spawn(slot);
    await spec.ready?.();
  }

  /** The running children: name → pid. */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.#slots.map((s) => [s.spec.name, s.child?.pid]));
  }

  #spawn(slot: Slot): void {
    const child = spawn(this.options.nodePath, slot.spec.args, {
      env: { ...process.env, ...slot.spec.env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    slot.child = child;
    slot.startedAt = Date.now();
    if (child.pid) this.emit('start', slot.spec.name, child.pid);
    child.once('exit', (code, signal) => {
      slot.child = undefined;
      this.emit('exit', slot.spec.name, code, signal);
      if (this.#stopping) return;
      if (Date.now() - slot.startedAt > this.options.stableAfterMs) slot.crashes = 0;
      slot.crashes++;
      const delay = backoffDelay(slot.crashes, this.options.restartBaseMs, this.options.restartMaxMs);
      this.emit('restart', slot.spec.name, delay, slot.crashes);
      slot.timer = setTimeout(() => {
        if (!this.#stopping) this.#spawn(slot);
      }, delay);
    });
  }

  /** SIGTERM to each child in reverse start order; waits for each to exit. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const slot of [...this.#slots].reverse()) {
      clearTimeout(slot.timer);
      const child = slot.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), this.options.stopTimeoutMs);
      await exited;
      clearTimeout(t);
    }
  }
}
