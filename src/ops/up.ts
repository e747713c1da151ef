import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { heartbeatServices, mallocEnv, type ServiceEntry } from './services-list.js';
import { waitForPort } from './ports.js';
import { ensureQuickstartToken, type QuickstartToken } from './quickstart-token.js';
import { checkPorts, UpError, waitForDashboard, waitForHeartbeats, type PlannedPort } from './up-checks.js';
import type { RedisProcess } from './redis-process.js';
import { startManagedRedis, watchManagedRedis } from './up-redis.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';
import { parseSourceSpec, type SourceSpec } from '../can/sources/index.js';
import { exitAfterStop } from '../util/exit.js';

/** What `canopy up` runs. */
export interface UpOptions {
  /** Directory for the managed Redis, SQLite file and spools (`CANOPY_DATA_DIR`). */
  dataDir: string;
  /** The services in start order (from `upServices()`). */
  services: ServiceEntry[];
  /** Path of the `canopy` CLI script the children run (`node <cliPath> <args>`). */
  cliPath: string;
  /** @defaultValue unset — a Redis to use; unset means start and manage one. */
  redisUrl?: string;
  /** @defaultValue 6379 — port of the managed Redis; a free one when taken (unless `redisPortFixed`). */
  redisPort: number;
  /** @defaultValue false — `redisPort` was chosen by the user (`--redis-port`): taken means refuse, not replace. */
  redisPortFixed: boolean;
  /**
   * @defaultValue true — with no API tokens configured (`CANOPY_API_TOKENS[_FILE]` unset), create the
   * quick start's operator token in the data directory on the first run and reuse it (docs/operations.md).
   */
  quickstartToken: boolean;
  /** @defaultValue false — also print the token itself once on the terminal when it is created (never logged). */
  showNewToken: boolean;
  /** @defaultValue 120000 — how long the dashboard (GET / and /health) may take to answer before up gives up. */
  dashboardWaitMs: number;
  /**
   * @defaultValue 60000 — after the dashboard answers, how long to wait for every service's heartbeat
   * before saying "Canopy is up" (those still missing are named); 0 does not wait.
   */
  servicesWaitMs: number;
  /** @defaultValue 3 — the api exiting this many times before the dashboard answers is a crash loop: give up. */
  crashLoopExits: number;
  /** @defaultValue 30000 — how long to wait for a service's port (the api) before going on. */
  portWaitMs: number;
  /** @defaultValue 30000 — time allowed for a watchdog (safe-state) command. */
  watchdogTimeoutMs: number;
  /**
   * @defaultValue 30000 — a service with a watchdog command (the automation) that sends no liveness ping
   * for this long is killed as hung, then its watchdog command runs (like systemd's `WatchdogSec`), ms.
   */
  livenessMs: number;
  /** @defaultValue 1000 — how often the managed Redis is checked for a crash. */
  redisCheckMs: number;
  /** @defaultValue 15000 — SIGKILL the managed Redis when it has not exited this long after SIGTERM. */
  redisStopTimeoutMs: number;
  /** Extra environment for every child (the supervisor adds REDIS_URL, CANOPY_DATA_DIR). */
  env: NodeJS.ProcessEnv;
  /** @defaultValue write to stdout — where the human-readable status lines go. */
  say: (line: string) => void;
  /** Passed to the {@link Supervisor}. */
  supervisor: Partial<SupervisorOptions>;
  /** @defaultValue unset — aborted (Ctrl+C while starting): everything started so far is stopped, startUp rejects. */
  signal?: AbortSignal;
}

export const UP_DEFAULTS = {
  redisPort: 6379,
  redisPortFixed: false,
  quickstartToken: true,
  showNewToken: false,
  dashboardWaitMs: 120_000,
  servicesWaitMs: 60_000,
  crashLoopExits: 3,
  portWaitMs: 30_000,
  watchdogTimeoutMs: 30_000,
  livenessMs: 30_000,
  redisCheckMs: 1000,
  redisStopTimeoutMs: 15_000,
  env: {},
  say: (line: string) => void process.stdout.write(line + '\n'),
  supervisor: { output: 'prefix' as const },
};

export type UpInput = Pick<UpOptions, 'dataDir' | 'services' | 'cliPath'> & Partial<UpOptions>;

export class SourceError extends Error {
  readonly code = 'UP_BAD_SOURCE';
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

/**
 * Checks `canopy up --source` with the scanner's own grammar (`sim[:rate]`,
 * `replay:FILE[@speed]`, `socketcan:IFACE`; see `parseSourceSpec`), before
 * anything starts: the replay file must exist and the interface name be one;
 * `stdin` is refused (the scanner under `canopy up` has no standard input).
 */
export function parseSource(s: string): SourceSpec {
  const kinds = 'sim[:rate], replay:FILE[@speed] or socketcan:IFACE';
  if (s === 'stdin')
    throw new SourceError(`--source stdin needs canopy scanner (canopy up's has no input); use ${kinds}`);
  let spec: SourceSpec;
  try {
    spec = parseSourceSpec(s);
  } catch (err) {
    throw new SourceError(`--source must be ${kinds}: ${(err as Error).message}`);
  }
  if (spec.kind === 'replay' && !fs.existsSync(spec.options.path)) {
    throw new SourceError(`--source replay:${spec.options.path}: no such file`);
  }
  if (spec.kind === 'socketcan' && !/^[\w.-]{1,15}$/.test(spec.options.iface)) {
    throw new SourceError(`--source socketcan:${spec.options.iface}: not an interface name`);
  }
  return spec;
}

/** Runs `node <cli> <args>` to completion; rejects on a non-zero exit or after `timeoutMs`. */
export function runCli(cliPath: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env }, stdio: 'inherit' });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      if (code === 0) resolve();
      else reject(new Error(`canopy ${args.join(' ')} exited with ${code ?? signal}`));
    });
  });
}

/** A running system: stop() shuts everything down in reverse order. */
export interface UpHandle {
  supervisor: Supervisor;
  redis: RedisProcess | undefined;
  redisUrl: string;
  /** `http://127.0.0.1:<port>/` of the api, when one is configured. */
  dashboardUrl: string | undefined;
  stop(): Promise<void>;
}

/**
 * Starts a managed Redis when no `redisUrl` is given, then every service in
 * order under a {@link Supervisor} that restarts crashed ones (saying so),
 * runs the watchdog command of a service that died, and stops all in
 * reverse order.
 */
export async function startUp(input: UpInput): Promise<UpHandle> {
  const o: UpOptions = { ...UP_DEFAULTS, ...input };
  const say = o.say;
  fs.mkdirSync(o.dataDir, { recursive: true });
  // every port first: nothing starts when one is taken
  const planned: PlannedPort[] = o.services.flatMap((s) =>
    s.port === undefined ? [] : [{ what: `the ${s.name}`, port: s.port, hint: s.portHint ?? 'its port option' }],
  );
  if (!o.redisUrl && o.redisPortFixed)
    planned.unshift({ what: 'the managed Redis', port: o.redisPort, hint: '--redis-port N' });
  await checkPorts(planned);
  const qt = wantsQuickstartToken(o) ? ensureQuickstartToken(o.dataDir) : undefined;
  let redis: RedisProcess | undefined;
  let redisUrl = o.redisUrl;
  if (!redisUrl) {
    redis = await startManagedRedis({ dataDir: o.dataDir, port: o.redisPort, portFixed: o.redisPortFixed, say });
    redisUrl = redis.url;
  }
  const sup = new Supervisor(o.supervisor);
  const env = {
    ...mallocEnv({ ...process.env, ...o.env }),
    ...o.env,
    REDIS_URL: redisUrl,
    CANOPY_DATA_DIR: o.dataDir,
    ...simulatedRelaysByChoice(o.env, o.dataDir),
    ...(qt ? { CANOPY_API_TOKENS_FILE: qt.tokensFile } : {}),
  };
  sup.on('start', (name, pid) => say(`${name} started (pid ${pid})`));
  // the process serving the dashboard: `api`, or the one `--compact` process
  const dashboardServices = new Set(o.services.filter((s) => s.port !== undefined).map((s) => s.name));
  const apiExits: string[] = [];
  sup.on('exit', (name, code, signal) => {
    if (dashboardServices.has(name) && !sup.stopping) apiExits.push(signal ? `signal ${signal}` : `exit code ${code}`);
    if (!sup.stopping) say(`${name} exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`})`);
  });
  sup.on('restart', (name, delayMs, crashes) => say(`restarting ${name} in ${delayMs} ms (crash ${crashes} in a row)`));
  sup.on('watchdog', (name, err) =>
    say(err ? `watchdog for ${name} FAILED: ${err.message}` : `watchdog for ${name}: safe state applied`),
  );
  sup.on('line', (name, _stream, line) => say(`${name} | ${line}`));
  sup.on('hung', (name, pid, silentMs) =>
    say(`${name} (pid ${pid}) sent no liveness ping for ${silentMs} ms: hung, killing it`),
  );

  let redisTimer: NodeJS.Timeout | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      clearInterval(redisTimer);
      await sup.stop();
      if (redis) {
        const how = await redis.stopOrKill(o.redisStopTimeoutMs);
        say(
          how === 'stopped'
            ? 'Redis stopped'
            : `Redis did not stop within ${o.redisStopTimeoutMs} ms (a failed final save? see ${redis.dir}/redis.log); killed it`,
        );
      }
    })());

  if (redis) redisTimer = watchManagedRedis(redis, o.redisCheckMs, () => sup.stopping, say);

  let dashboardUrl: string | undefined;
  try {
    for (const s of o.services) {
      if (o.signal?.aborted) throw new UpError('UP_NOT_UP', 'stopped while starting');
      const onCrash = s.onCrash;
      await sup.add({
        name: s.name,
        args: [...(s.nodeArgs ?? []), o.cliPath, ...s.args],
        env,
        ...(onCrash
          ? { onCrash: () => runCli(o.cliPath, onCrash, env, o.watchdogTimeoutMs), watchdogMs: o.livenessMs }
          : {}),
        ...(s.port !== undefined
          ? {
              ready: async () => {
                try {
                  // an api crash loop or Ctrl+C ends the wait early: the dashboard check below says why
                  await Promise.race([
                    waitForPort(s.port as number, '127.0.0.1', o.portWaitMs),
                    until(() => apiExits.length >= o.crashLoopExits || o.signal?.aborted === true, o.portWaitMs),
                  ]);
                } catch {
                  say(`${s.name} does not listen on port ${s.port} yet; going on`);
                }
              },
            }
          : {}),
      });
      if (s.port !== undefined) dashboardUrl = `http://127.0.0.1:${s.port}/`;
    }
    if (dashboardUrl) {
      say(`waiting for the dashboard to answer at ${dashboardUrl} …`);
      await waitForDashboard({
        url: dashboardUrl,
        timeoutMs: o.dashboardWaitMs,
        givenUp: () =>
          o.signal?.aborted
            ? 'stopped while starting'
            : apiExits.length >= o.crashLoopExits
              ? `the api keeps crashing (${apiExits.length} exits, last: ${apiExits.at(-1)}); Canopy is NOT up`
              : undefined,
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  // the dashboard answers before the rest is up (the one --compact process starts its services in turn)
  const missing = await waitForHeartbeats(
    redisUrl,
    heartbeatServices(o.services),
    o.servicesWaitMs,
    () => o.signal?.aborted === true,
  );
  if (o.signal?.aborted) {
    await stop();
    throw new UpError('UP_NOT_UP', 'stopped while starting');
  }
  if (missing.length > 0)
    say(
      `still starting after ${Math.round(o.servicesWaitMs / 1000)} s: ${missing.join(', ')} (canopy status shows them)`,
    );
  say(
    o.services.length === 0
      ? 'no services are configured yet; only Redis runs'
      : `Canopy is up: ${o.services.map((s) => s.name).join(', ')}`,
  );
  say(dashboardUrl ? `Dashboard: ${dashboardUrl}` : 'no api service configured: no dashboard');
  if (qt) sayToken(qt, o.showNewToken, say);
  return { supervisor: sup, redis, redisUrl, dashboardUrl, stop };
}

/**
 * The signals that stop `canopy up` cleanly. SIGHUP is the terminal hanging
 * up (an SSH session to the Pi dropped, a terminal window closed): by default
 * it would end the supervisor on the spot, without stopping anything.
 */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs {@link startUp} until SIGINT, SIGTERM or SIGHUP, then stops everything
 * in reverse order and exits 0. A second signal exits at once (children get
 * SIGKILL).
 */
export async function runUpUntilSignal(input: UpInput): Promise<void> {
  const say = input.say ?? UP_DEFAULTS.say;
  // a closed stdout (`canopy up | head`) must not kill the supervisor and orphan its children
  process.stdout.on('error', () => undefined);
  // One handler from the first moment to the last: removing a signal's last listener drops a signal
  // already received but not yet handled (a Ctrl+C just as the start finished was lost that way).
  const starting = new AbortController();
  let startSignal: NodeJS.Signals | undefined;
  let handle: UpHandle | undefined;
  let stopping: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (!handle) {
      // Ctrl+C while starting: stop what started (the managed Redis included) instead of orphaning it;
      // a second one (not a repeated hang-up) kills at once
      if (startSignal && sig !== 'SIGHUP') process.exit(130);
      startSignal ??= sig;
      starting.abort();
      return;
    }
    // a hang-up can come twice (the kernel, then the login shell passing it on): only a repeated Ctrl+C or SIGTERM hurries
    if (stopping && sig === 'SIGHUP') return;
    if (stopping) {
      say(`${sig} again: killing everything now`);
      process.exit(130);
    }
    stopping = sig;
    say(`${sig}: stopping every service (each finishes its batch in hand)…`);
    handle
      .stop()
      .then(() => {
        say('all stopped');
        exitAfterStop(stopping, 0);
      })
      .catch((err: unknown) => {
        say(`stop failed: ${(err as Error).message}`);
        exitAfterStop(stopping, 1);
      });
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  try {
    handle = await startUp({ ...input, signal: starting.signal });
  } catch (err) {
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
    throw err;
  }
  const up = handle;
  say('Ctrl+C stops everything.');
  process.once('exit', () => {
    up.supervisor.killAllSync();
    const rpid = up.redis?.running ? up.redis.pid : undefined;
    if (rpid !== undefined) process.kill(rpid, 'SIGTERM'); // redis saves on SIGTERM
  });
  // a signal in the last moments of the start (after its last check of the abort): stop now, not never
  if (startSignal) onSignal(startSignal);
}

/**
 * `canopy up` on its embedded defaults is a simulation on purpose: with no
 * `CANOPY_I2C` anywhere (and not `NODE_ENV=production`), its automation gets
 * the simulated chip explicitly. Without this, a terminal that a desktop's
 * systemd user manager started (it inherits `INVOCATION_ID`) would look like a
 * systemd install, and the automation would refuse to start. A real install
 * runs the systemd units instead, where the explicit choice is enforced.
 */
function simulatedRelaysByChoice(extra: NodeJS.ProcessEnv, dataDir: string): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (env.CANOPY_I2C || env.NODE_ENV === 'production') return {};
  return { CANOPY_I2C: `sim:${path.resolve(dataDir, 'mcp23017-sim.json')}`, CANOPY_ALLOW_SIMULATED_RELAYS: '1' };
}

/** The quick start makes its operator token when asked to and no API tokens are configured. */
function wantsQuickstartToken(o: UpOptions): boolean {
  const env = { ...process.env, ...o.env };
  return o.quickstartToken && !env.CANOPY_API_TOKENS && !env.CANOPY_API_TOKENS_FILE;
}

/** Where the operator token is (and, once, on a terminal, the token itself: never in a log). */
function sayToken(t: QuickstartToken, show: boolean, say: (line: string) => void): void {
  if (t.tightened) say(`${t.operatorFile} was readable by others: set back to mode 0600`);
  say(
    `Operator token (to control devices): ${t.operatorFile} (mode 0600, ${t.created ? 'created now' : 'reused'}); ` +
      "paste it into the dashboard's token field",
  );
  if (t.created && show) say(`  token: ${t.token}`);
}

/** Resolves once `cond()` holds (checked every 100 ms); never rejects, gives up silently after `timeoutMs`. */
async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (!cond()) await new Promise(() => undefined); // only the port wait may end the race then
}
