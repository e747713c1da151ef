import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import readline from 'node:readline';
import { backoffDelay } from '../bus/options.js';

/** One child the supervisor keeps running. */
export interface ChildSpec {
  name: string;
  /** Arguments after the command, e.g. `[cliPath, 'worker']` for `node`. */
  args: string[];
  /** @defaultValue the supervisor's `nodePath` */
  command?: string;
  env?: NodeJS.ProcessEnv;
  /** Resolves when the child is ready for the next one to start (optional). */
  ready?: () => Promise<void>;
  /**
   * The watchdog: runs after the child died unexpectedly (crash, kill -9,
   * non-zero exit), before it is restarted — e.g. drive relays to their safe
   * state. Its failure is reported and does not prevent the restart.
   */
  onCrash?: () => Promise<void>;
  /**
   * @defaultValue unset (no liveness watchdog) — the child is a node process
   * that sends `WATCHDOG=1` over an IPC channel (the automation does, given
   * `CANOPY_WATCHDOG_MS`) while its work makes progress; when none arrives
   * for this long it is considered hung and killed with SIGKILL (then
   * `onCrash` and the restart follow as for any crash).
   */
  watchdogMs?: number;
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
  /**
   * @defaultValue `inherit` — `prefix` pipes each child's stdout/stderr
   * through the supervisor with `name | ` in front of every line.
   */
  output: 'inherit' | 'prefix';
  /**
   * @defaultValue true — node children get SIGTERM (and stop cleanly) when the
   * supervisor itself dies without stopping them (kill -9): they run in their
   * own process group, so nothing else would tell them.
   */
  exitWithParent: boolean;
}

export const SUPERVISOR_DEFAULTS: SupervisorOptions = {
  restartBaseMs: 500,
  restartMaxMs: 30_000,
  stableAfterMs: 60_000,
  stopTimeoutMs: 15_000,
  nodePath: process.execPath,
  output: 'inherit',
  exitWithParent: true,
};

/**
 * Preloaded into node children (`--import`): at once and then every second,
 * if the parent is no longer the supervisor (`CANOPY_SUPERVISOR_PID`: it died
 * and the child was re-parented, possibly before this ran), SIGTERM self.
 */
export const PARENT_WATCH =
  'data:text/javascript,const p=Number(process.env.CANOPY_SUPERVISOR_PID);if(p>0){const c=()=>{if(process.ppid!==p){clearInterval(t);process.kill(process.pid,"SIGTERM")}};const t=setInterval(c,1000);t.unref();c()}';

export class SupervisorError extends Error {
  readonly code: 'SUPERVISOR_CONFIG' | 'SUPERVISOR_STOPPED';
  constructor(code: SupervisorError['code'], message: string) {
    super(message);
    this.name = 'SupervisorError';
    this.code = code;
  }
}

interface Slot {
  spec: ChildSpec;
  child?: ChildProcess;
  exited?: Promise<void>;
  crashes: number;
  restarts: number;
  startedAt: number;
  timer?: NodeJS.Timeout;
  watchdog?: Promise<void>;
  lastPing: number;
  liveness?: NodeJS.Timeout;
}

export interface ChildStatus {
  name: string;
  pid: number | undefined;
  running: boolean;
  restarts: number;
  crashesInARow: number;
}

export interface SupervisorEvents {
  start: [name: string, pid: number];
  exit: [name: string, code: number | null, signal: NodeJS.Signals | null];
  restart: [name: string, delayMs: number, crashes: number];
  watchdog: [name: string, error: Error | undefined];
  /** No liveness ping for `watchdogMs`: the child is being killed. */
  hung: [name: string, pid: number, silentMs: number];
  /** A line a child wrote (only with `output: 'prefix'`). */
  line: [name: string, stream: 'stdout' | 'stderr', line: string];
}

function validate(o: SupervisorOptions): SupervisorOptions {
  for (const k of ['restartBaseMs', 'restartMaxMs', 'stopTimeoutMs'] as const) {
    if (!(o[k] > 0)) throw new SupervisorError('SUPERVISOR_CONFIG', `${k} must be > 0, got ${o[k]}`);
  }
  if (o.restartMaxMs < o.restartBaseMs)
    throw new SupervisorError('SUPERVISOR_CONFIG', 'restartMaxMs must be >= restartBaseMs');
  if (!(o.stableAfterMs >= 0)) throw new SupervisorError('SUPERVISOR_CONFIG', 'stableAfterMs must be >= 0');
  return o;
}

/**
 * Starts children in order, restarts a crashed one with exponential backoff
 * (after running its watchdog), and stops them all in reverse order on
 * {@link stop}. Children run in their own process group, so a Ctrl+C in the
 * terminal reaches only the supervisor, which then stops them in order.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly options: SupervisorOptions;
  readonly #slots: Slot[] = [];
  #stopping = false;
  #stopped: Promise<void> | undefined;

  constructor(options: Partial<SupervisorOptions> = {}) {
    super();
    this.options = validate({ ...SUPERVISOR_DEFAULTS, ...options });
  }

  async add(spec: ChildSpec): Promise<void> {
    if (this.#stopping) throw new SupervisorError('SUPERVISOR_STOPPED', `cannot add ${spec.name}: stopping`);
    if (this.#slots.some((s) => s.spec.name === spec.name))
      throw new SupervisorError('SUPERVISOR_CONFIG', `a child named ${spec.name} exists already`);
    if (spec.watchdogMs !== undefined && !(spec.watchdogMs > 0))
      throw new SupervisorError('SUPERVISOR_CONFIG', `${spec.name}: watchdogMs must be > 0, got ${spec.watchdogMs}`);
    const slot: Slot = { spec, crashes: 0, restarts: 0, startedAt: 0, lastPing: 0 };
    this.#slots.push(slot);
    this.#spawn(slot);
    await spec.ready?.();
  }

  /** The running children: name → pid. */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.#slots.map((s) => [s.spec.name, s.child?.pid]));
  }

  status(): ChildStatus[] {
    return this.#slots.map((s) => ({
      name: s.spec.name,
      pid: s.child?.pid,
      running: s.child !== undefined,
      restarts: s.restarts,
      crashesInARow: s.crashes,
    }));
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  #spawn(slot: Slot): void {
    const piped = this.options.output === 'prefix';
    const isNode = slot.spec.command === undefined;
    const args = isNode && this.options.exitWithParent ? ['--import', PARENT_WATCH, ...slot.spec.args] : slot.spec.args;
    const wd = isNode ? slot.spec.watchdogMs : undefined;
    const child = spawn(slot.spec.command ?? this.options.nodePath, args, {
      env: {
        ...process.env,
        ...slot.spec.env,
        CANOPY_SUPERVISOR_PID: String(process.pid),
        ...(wd ? { CANOPY_WATCHDOG_MS: String(wd) } : {}),
      },
      stdio: ['ignore', piped ? 'pipe' : 'inherit', piped ? 'pipe' : 'inherit', ...(wd ? ['ipc' as const] : [])],
      detached: true,
    });
    slot.child = child;
    slot.startedAt = performance.now();
    if (wd) this.#watchLiveness(slot, child, wd);
    if (piped) {
      for (const stream of ['stdout', 'stderr'] as const) {
        const src = child[stream];
        if (!src) continue;
        readline
          .createInterface({ input: src, crlfDelay: Infinity })
          .on('line', (l) => this.emit('line', slot.spec.name, stream, l));
      }
    }
    let resolveExit!: () => void;
    slot.exited = new Promise<void>((r) => (resolveExit = r));
    child.once('error', (err) => {
      // spawn failure (binary missing): reported as an exit with code 127
      if (child.pid === undefined) {
        this.emit('watchdog', slot.spec.name, err);
        this.#onExit(slot, child, 127, null);
        resolveExit();
      }
    });
    child.once('exit', (code, signal) => {
      this.#onExit(slot, child, code, signal);
      resolveExit();
    });
    if (child.pid) this.emit('start', slot.spec.name, child.pid);
  }

  /** Kills the child when its liveness pings (IPC `WATCHDOG=1`/`READY=1`) stop for `ms`. */
  #watchLiveness(slot: Slot, child: ChildProcess, ms: number): void {
    slot.lastPing = performance.now();
    child.on('message', (m) => {
      if (m === 'WATCHDOG=1' || m === 'READY=1') slot.lastPing = performance.now();
    });
    child.channel?.unref();
    clearInterval(slot.liveness);
    slot.liveness = setInterval(
      () => {
        const silent = performance.now() - slot.lastPing;
        if (slot.child !== child || this.#stopping || silent <= ms) return;
        clearInterval(slot.liveness);
        this.emit('hung', slot.spec.name, child.pid ?? 0, Math.round(silent));
        child.kill('SIGKILL');
      },
      Math.max(20, Math.floor(ms / 4)),
    );
    slot.liveness.unref();
  }

  #onExit(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    slot.child = undefined;
    clearInterval(slot.liveness);
    this.emit('exit', slot.spec.name, code, signal);
    const clean = code === 0 && signal === null;
    if (this.#stopping) {
      // a child that dies badly while we stop still gets its watchdog
      if (!clean && slot.spec.onCrash) slot.watchdog = this.#runWatchdog(slot);
      return;
    }
    if (performance.now() - slot.startedAt > this.options.stableAfterMs) slot.crashes = 0;
    slot.crashes++;
    const delay = backoffDelay(slot.crashes, this.options.restartBaseMs, this.options.restartMaxMs);
    slot.watchdog = slot.spec.onCrash ? this.#runWatchdog(slot) : Promise.resolve();
    void slot.watchdog.then(() => {
      if (this.#stopping) return;
      this.emit('restart', slot.spec.name, delay, slot.crashes);
      slot.timer = setTimeout(() => {
        slot.timer = undefined;
        if (this.#stopping) return;
        slot.restarts++;
        this.#spawn(slot);
      }, delay);
    });
  }

  async #runWatchdog(slot: Slot): Promise<void> {
    try {
      await slot.spec.onCrash?.();
      this.emit('watchdog', slot.spec.name, undefined);
    } catch (err) {
      this.emit('watchdog', slot.spec.name, err as Error);
    }
  }

  /**
   * SIGTERM to each child in reverse start order, waiting for each to exit
   * (SIGKILL after `stopTimeoutMs`) before the next; pending restarts are
   * cancelled. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stopAll();
    return this.#stopped;
  }

  async #stopAll(): Promise<void> {
    this.#stopping = true;
    for (const slot of [...this.#slots].reverse()) {
      clearTimeout(slot.timer);
      clearInterval(slot.liveness);
      await slot.watchdog;
      const child = slot.child;
      if (child) {
        const exited = slot.exited;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), this.options.stopTimeoutMs);
        await exited;
        clearTimeout(t);
      }
      await slot.watchdog;
    }
  }

  /** Last resort at process exit: SIGKILL every child still running (synchronous). */
  killAllSync(): void {
    for (const slot of this.#slots) {
      const pid = slot.child?.pid;
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
