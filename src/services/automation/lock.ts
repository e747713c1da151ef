import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readProcStat } from '../../util/procstat.js';

/** Who holds a relay bus: written into the lock file and the Redis lease. */
export interface BusHolder {
  host: string;
  pid: number;
  /** `<host>:automation:<pid>`, as in the heartbeat. */
  instance: string;
  /** The bus id ({@link relayBusId}). */
  bus: string;
  /** ISO time the holder took the bus. */
  since: string;
  /** Linux boot id: a lock from before a reboot is stale whatever its pid. */
  bootId: string | null;
  /** The holder's start time in clock ticks since boot (/proc/PID/stat): tells a reused pid apart. */
  startTicks: number | null;
}

/** A second automation on the same relay bus. */
export class RelayBusLockedError extends Error {
  readonly code = 'AUTOMATION_BUS_LOCKED';
  readonly holder: BusHolder;
  constructor(message: string, holder: BusHolder) {
    super(message);
    this.name = 'RelayBusLockedError';
    this.holder = holder;
  }
}

/** `pid 1234 on host pi-flower (instance …, since …)`. */
export function describeHolder(h: BusHolder): string {
  return `pid ${h.pid} on host ${h.host} (instance ${h.instance}, since ${h.since})`;
}

function readOr<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

export function bootId(): string | null {
  return readOr(() => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), null);
}

/** Field 22 of /proc/PID/stat (after the parenthesised command name, which may hold spaces). */
export function processStartTicks(pid: number): number | null {
  return readProcStat(pid)?.startTicks ?? null;
}

/** This process as a holder of `bus`. */
export function selfHolder(bus: string): BusHolder {
  const host = os.hostname();
  return {
    host,
    pid: process.pid,
    instance: `${host}:automation:${process.pid}`,
    bus,
    since: new Date().toISOString(),
    bootId: bootId(),
    startTicks: processStartTicks(process.pid),
  };
}

/**
 * Whether a holder recorded on this host is still running: same boot, the
 * pid exists, and (where /proc tells) it is the same process, not a reused
 * pid. A holder on another host is assumed alive.
 */
export function holderAlive(h: BusHolder): boolean {
  if (h.host !== os.hostname()) return true;
  const boot = bootId();
  if (h.bootId && boot && h.bootId !== boot) return false;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const ticks = processStartTicks(h.pid);
  return !(h.startTicks !== null && ticks !== null && ticks !== h.startTicks);
}

function parseHolder(text: string): BusHolder | null {
  try {
    const h = JSON.parse(text) as BusHolder;
    return typeof h?.pid === 'number' && typeof h.host === 'string' ? h : null;
  } catch {
    return null;
  }
}

/**
 * The exclusive lock on one relay bus: a file created with O_EXCL
 * (`link()` of a complete temporary file, so no reader ever sees half of
 * it) naming the holder, held for the life of the process, removed by
 * {@link release}. A file left by a process that died (kill -9, power
 * loss) is recognised as stale by pid, process start time and boot id, and
 * taken over by renaming it away first, so two starters cannot both take
 * it. Works without Redis.
 */
export class RelayBusFileLock {
  readonly file: string;
  readonly holder: BusHolder;
  #released = false;

  private constructor(file: string, holder: BusHolder) {
    this.file = file;
    this.holder = holder;
  }

  static acquire(dir: string, bus: string): RelayBusFileLock {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `relay-bus-${bus}.lock`);
    const me = selfHolder(bus);
    const text = JSON.stringify(me) + '\n';
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text, { mode: 0o644 });
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          fs.linkSync(tmp, file);
          return new RelayBusFileLock(file, me);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        const seen = readOr(() => fs.readFileSync(file, 'utf8'), null);
        if (seen === null) continue; // released meanwhile
        const other = parseHolder(seen);
        if (other && other.pid !== process.pid && holderAlive(other))
          throw new RelayBusLockedError(
            `relay bus ${bus} is already controlled by canopy automation ${describeHolder(other)} (lock ${file}); stop that one first`,
            other,
          );
        // stale (or unreadable): claim it by renaming it away; only one starter's rename succeeds
        const aside = `${file}.stale.${process.pid}`;
        try {
          fs.renameSync(file, aside);
        } catch {
          continue;
        }
        const moved = readOr(() => fs.readFileSync(aside, 'utf8'), null);
        if (moved !== seen) {
          // another starter took over between our read and our rename: give its lock back
          readOr(() => fs.linkSync(aside, file), undefined);
        }
        readOr(() => fs.unlinkSync(aside), undefined);
      }
      throw new Error(`could not take the relay bus lock ${file}: it keeps changing`);
    } finally {
      readOr(() => fs.unlinkSync(tmp), undefined);
    }
  }

  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const h = parseHolder(readOr(() => fs.readFileSync(this.file, 'utf8'), ''));
    if (h && h.pid === this.holder.pid && h.since === this.holder.since)
      readOr(() => fs.unlinkSync(this.file), undefined);
  }
}
