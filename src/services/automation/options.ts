import { automationEnv } from '../../config/automation.js';
import {
  ACTUATORS_COMMANDS,
  AUTOMATION_EVENTS,
  AUTOMATION_LEASE_PREFIX,
  AUTOMATION_STATE,
  SENSOR_LIVE_PREFIX,
} from '../../contracts/names.js';

/** Everything `canopy automation` can be told. */
export interface AutomationOptions {
  /** @defaultValue `AUTOMATION_DEVICES`, else the shipped `config/devices.yaml`. */
  devicesFile: string;
  /**
   * Where the relays are: `sim` (in memory), `sim:FILE` (simulated chips
   * whose registers live in FILE, shared with `--safe-state`), or an I2C bus
   * number / `linux:N` for /dev/i2c-N.
   * @defaultValue `CANOPY_I2C`, else `sim:$CANOPY_DATA_DIR/mcp23017-sim.json`
   */
  i2c: string;
  /** @defaultValue `REDIS_URL` (the bus default when unset). */
  redisUrl: string | undefined;
  /** @defaultValue `DATABASE_URL` (control history, device states, setpoints). */
  databaseUrl: string;
  /** @defaultValue 500 — how often every device is re-evaluated (schedules, expiries, failsafe), ms. */
  tickMs: number;
  /** @defaultValue 1000 — how often the live keys are read (besides `sensor:update`), ms. */
  pollMs: number;
  /** @defaultValue 5000 — how often every MCP23017 is verified (and re-initialised after a brown-out), ms. */
  checkMs: number;
  /** @defaultValue 200 — persisted state is written at most this often, ms. */
  persistMs: number;
  /** @defaultValue `sensor:` — prefix of the live keys. */
  livePrefix: string;
  /** @defaultValue `automation:state` — hash of persisted modes, states, setpoints and on-time. */
  stateKey: string;
  /** @defaultValue `automation:events` — channel of failsafe, command and fault events (JSON). */
  eventsChannel: string;
  /** @defaultValue `actuators:commands` */
  commandStream: string;
  /** @defaultValue `automation` — consumer group on the command stream. */
  commandGroup: string;
  /** @defaultValue 10000 — control history rows kept in memory while the store is unreachable. */
  recordQueueMax: number;
  /**
   * @defaultValue 2000 — a wall-clock move that differs from the monotonic
   * clock's by more than this between two looks is a clock step (logged as
   * `clock step`; schedules re-evaluated at once), ms.
   */
  clockStepMs: number;
  /** @defaultValue `CANOPY_DATA_DIR` — where the relay bus lock and the last good devices file are kept. */
  dataDir: string;
  /** @defaultValue 1000 — an I2C transfer not completed after this long fails with HW_TIMEOUT, ms. */
  i2cTimeoutMs: number;
  /** @defaultValue `automation:lease:` — prefix of the Redis lease naming who controls a relay bus. */
  leasePrefix: string;
  /** @defaultValue 15000 — the Redis lease lapses this long after its holder stops refreshing it, ms. */
  leaseTtlMs: number;
  /** @defaultValue 15000 — watchdog pings stop when no control cycle completed for this long, ms. */
  stallMs: number;
  /**
   * @defaultValue 20 — SQLite busy timeout of the automation's own store connection, ms. Short on purpose:
   * SQLite waits synchronously, so a long one would stall the control loop while another process holds the
   * write lock; a busy store is retried in the background instead.
   */
  storeBusyTimeoutMs: number;
}

export function automationDefaults(env: NodeJS.ProcessEnv = process.env): AutomationOptions {
  const e = automationEnv(env);
  return {
    devicesFile: e.devicesFile,
    i2c: e.i2c,
    redisUrl: e.redisUrl,
    databaseUrl: e.databaseUrl,
    tickMs: 500,
    pollMs: 1000,
    checkMs: 5000,
    persistMs: 200,
    livePrefix: SENSOR_LIVE_PREFIX,
    stateKey: AUTOMATION_STATE,
    eventsChannel: AUTOMATION_EVENTS,
    commandStream: ACTUATORS_COMMANDS,
    commandGroup: 'automation',
    recordQueueMax: 10_000,
    clockStepMs: 2000,
    dataDir: e.dataDir,
    i2cTimeoutMs: 1000,
    leasePrefix: AUTOMATION_LEASE_PREFIX,
    leaseTtlMs: 15_000,
    stallMs: 15_000,
    storeBusyTimeoutMs: 20,
  };
}

export class AutomationConfigError extends Error {
  readonly code = 'AUTOMATION_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'AutomationConfigError';
  }
}

/** Defaults spread under the given options, validated at once. */
export function resolveAutomationOptions(
  opts: Partial<AutomationOptions> = {},
  env: NodeJS.ProcessEnv = process.env,
): AutomationOptions {
  const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
  const o: AutomationOptions = { ...automationDefaults(env), ...defined };
  for (const k of [
    'tickMs',
    'pollMs',
    'checkMs',
    'persistMs',
    'recordQueueMax',
    'i2cTimeoutMs',
    'leaseTtlMs',
    'stallMs',
    'clockStepMs',
  ] as const) {
    if (!(Number.isFinite(o[k]) && o[k] > 0)) throw new AutomationConfigError(`${k} must be > 0, got ${o[k]}`);
  }
  if (!(Number.isFinite(o.storeBusyTimeoutMs) && o.storeBusyTimeoutMs >= 0))
    throw new AutomationConfigError(`storeBusyTimeoutMs must be >= 0, got ${o.storeBusyTimeoutMs}`);
  return o;
}
