import type { Connection } from '../../bus/connection.js';
import type { I2CBus } from '../../hw/i2c.js';
import { Mcp23017Simulator } from '../../hw/mcp23017-sim.js';
import type { Logger } from '../../util/log.js';
import { openBus } from './hardware.js';
import { RelayBusLease } from './lease.js';
import { RelayBusFileLock } from './lock.js';
import type { AutomationOptions } from './options.js';
import { isSimulated, relayBusId } from './relay-bus.js';
import { automationEnv } from '../../config/automation.js';
import { ControlWatchdog, supervisorSink, systemdSink } from './watchdog.js';

/** The relay bus this process controls. */
export interface RelayBusClaim {
  bus: I2CBus;
  /** The lock file held for the life of the process (none for a bus the caller injected). */
  lock: RelayBusFileLock | undefined;
  simulated: boolean;
  /** Closes a bus opened here and releases the lock. */
  release(): Promise<void>;
}

/**
 * Takes the relay bus: the lock file first (a second automation on this bus
 * is refused with {@link RelayBusLockedError} before anything is opened),
 * then the bus, every transfer with a deadline. An injected bus (tests, the
 * benchmark) is the caller's: no lock.
 */
export async function claimRelayBus(o: AutomationOptions, given: I2CBus | undefined): Promise<RelayBusClaim> {
  if (given)
    return { bus: given, lock: undefined, simulated: given instanceof Mcp23017Simulator, release: async () => {} };
  const lock = RelayBusFileLock.acquire(o.dataDir, relayBusId(o.i2c));
  let bus: I2CBus;
  try {
    bus = await openBus(o.i2c, o.i2cTimeoutMs);
  } catch (err) {
    lock.release();
    throw err;
  }
  return {
    bus,
    lock,
    simulated: isSimulated(o.i2c),
    release: async () => {
      await bus.close().catch(() => undefined);
      lock.release();
    },
  };
}

/** The Redis lease naming this process as the bus's controller (none for an injected bus). */
export async function takeLease(
  conn: Connection,
  o: AutomationOptions,
  claim: RelayBusClaim,
  log: Logger,
): Promise<RelayBusLease | undefined> {
  if (!claim.lock) return undefined;
  return RelayBusLease.acquire(
    conn,
    { key: `${o.leasePrefix}${claim.lock.holder.bus}`, ttlMs: o.leaseTtlMs },
    claim.lock.holder,
    log,
  );
}

/**
 * READY=1 now (relays safe, loop running), then liveness pings while control
 * cycles complete: every tick a marker goes through the control chain
 * (`idle()` resolves once every change decided before it is applied), and
 * only a marker that came through counts as progress.
 */
export function startLiveness(
  idle: () => Promise<void>,
  o: AutomationOptions,
  env: NodeJS.ProcessEnv,
  log: Logger,
): { watchdog: ControlWatchdog; stop(): void } {
  const watchdog = new ControlWatchdog(
    [systemdSink(env), supervisorSink(automationEnv(env).watchdogMs)],
    { stallMs: o.stallMs },
    log,
  );
  const cycle = setInterval(() => {
    const at = performance.now();
    void idle().then(() => watchdog.progress(at));
  }, o.tickMs);
  cycle.unref();
  watchdog.ready();
  return {
    watchdog,
    stop() {
      clearInterval(cycle);
      watchdog.stop();
    },
  };
}
