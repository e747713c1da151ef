import { execFile } from 'node:child_process';
import type { Logger } from '../../util/log.js';

/** Where readiness and liveness go: systemd's notify socket and/or the `canopy up` supervisor. */
export interface WatchdogSink {
  name: string;
  /** Ping interval this sink asks for, ms. */
  intervalMs: number;
  send(state: 'READY=1' | 'WATCHDOG=1' | 'STOPPING=1'): Promise<void>;
}

/**
 * systemd (`Type=notify`, `WatchdogSec=`): present when `NOTIFY_SOCKET` is
 * set. Node has no unix datagram sockets, so each message is sent by the
 * `systemd-notify` tool (part of systemd, so always there when systemd is;
 * the unit needs `NotifyAccess=all` because the sender is a child process).
 * Pings every half of `WATCHDOG_USEC`, as sd_watchdog_enabled() advises.
 */
export function systemdSink(env: NodeJS.ProcessEnv, command = 'systemd-notify'): WatchdogSink | undefined {
  if (!env.NOTIFY_SOCKET) return undefined;
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid;
  return {
    name: 'systemd',
    intervalMs: usec > 0 && forUs ? Math.max(100, Math.floor(usec / 2000)) : 0,
    send: (state) =>
      new Promise<void>((resolve, reject) => {
        const args = state === 'READY=1' ? ['--ready'] : [state];
        execFile(command, args, { env, timeout: 10_000 }, (err) => (err ? reject(err) : resolve()));
      }),
  };
}

/**
 * The `canopy up` supervisor: present when it started us with an IPC
 * channel and `CANOPY_WATCHDOG_MS`; pings every third of that.
 */
export function supervisorSink(ms: number | undefined): WatchdogSink | undefined {
  if (!(ms !== undefined && ms > 0) || typeof process.send !== 'function') return undefined;
  process.channel?.unref(); // the channel must not keep a stopping process alive
  return {
    name: 'supervisor',
    intervalMs: Math.max(50, Math.floor(ms / 3)),
    send: (state) =>
      new Promise<void>((resolve, reject) => {
        if (!process.connected) return resolve();
        process.send!(state, undefined, undefined, (err: Error | null) => (err ? reject(err) : resolve()));
      }),
  };
}

export interface ControlWatchdogOptions {
  /** @defaultValue 15000 — no ping while the last completed control cycle is older than this, ms. */
  stallMs: number;
}

/**
 * Liveness of the control loop: {@link progress} is called each time a
 * control cycle has completed (its relay writes done); pings go out only
 * while the last one is recent. A blocked event loop sends nothing at all;
 * a loop stuck behind a transfer that never returns stops progressing — in
 * both cases the pings stop, and systemd (or the supervisor) kills the
 * process, after which the safe-state step drives every relay safe.
 */
export class ControlWatchdog {
  readonly #sinks: WatchdogSink[];
  readonly #o: ControlWatchdogOptions;
  readonly #log: Logger;
  readonly #timers: NodeJS.Timeout[] = [];
  #last = performance.now();
  #ready = false;
  /** Pings sent and withheld, for tests and the heartbeat. */
  readonly stats = { pings: 0, withheld: 0, failures: 0 };

  constructor(sinks: Array<WatchdogSink | undefined>, o: ControlWatchdogOptions, log: Logger) {
    if (!(o.stallMs > 0)) throw new RangeError(`stallMs must be > 0, got ${o.stallMs}`);
    this.#sinks = sinks.filter((s): s is WatchdogSink => s !== undefined);
    this.#o = o;
    this.#log = log;
  }

  get sinks(): string[] {
    return this.#sinks.map((s) => s.name);
  }

  /** A control cycle completed (at `at`, `performance.now()` time). */
  progress(at = performance.now()): void {
    if (at > this.#last) this.#last = at;
  }

  /** Whether the last completed cycle is recent enough to vouch for the loop. */
  healthy(now = performance.now()): boolean {
    return now - this.#last <= this.#o.stallMs;
  }

  /** Relays are safe and the loop runs: READY=1, then the periodic pings. */
  ready(): void {
    if (this.#ready) return;
    this.#ready = true;
    for (const s of this.#sinks) {
      this.#send(s, 'READY=1');
      if (s.intervalMs > 0) {
        const t = setInterval(() => this.#ping(s), s.intervalMs);
        t.unref();
        this.#timers.push(t);
      }
    }
  }

  #ping(s: WatchdogSink): void {
    if (!this.healthy()) {
      this.stats.withheld++;
      if (this.stats.withheld === 1 || this.stats.withheld % 10 === 0)
        this.#log.error(
          { sink: s.name, lastCycleMsAgo: Math.round(performance.now() - this.#last) },
          'control loop makes no progress: watchdog pings withheld',
        );
      return;
    }
    this.stats.pings++;
    this.#send(s, 'WATCHDOG=1');
  }

  #send(s: WatchdogSink, state: 'READY=1' | 'WATCHDOG=1' | 'STOPPING=1'): void {
    s.send(state).catch((err: unknown) => {
      this.stats.failures++;
      this.#log.warn({ sink: s.name, err: (err as Error).message }, `watchdog ${state} not delivered`);
    });
  }

  /** Stops pinging and says STOPPING=1 (a clean stop is not a hang). */
  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
    if (this.#ready) for (const s of this.#sinks) this.#send(s, 'STOPPING=1');
  }
}
