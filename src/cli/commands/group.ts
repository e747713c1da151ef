import { Command } from 'commander';
import { withDeadline } from '../../bus/deadline.js';
import type { ServiceHandle } from '../../services/types.js';
import { createLogger, type Logger } from '../../util/log.js';
import { runUntilSignal } from '../run-service.js';
import { launchAlerts, registerAlerts } from './alerts.js';
import { launchAnalytics, registerAnalytics } from './analytics.js';
import { launchExporter, registerExporter } from './exporter.js';
import { launchRecorder, registerRecorder } from './recorder.js';
import { launchApi, registerApi } from './api.js';
import { launchAutomation, registerAutomation } from './automation.js';
import { launchScanner, launchWorker, registerPipeline } from './pipeline.js';

/**
 * The services that may share one process: subscribers that keep little
 * state and control nothing. The automation (hardware), the api and gateway
 * (network-facing), the scanner and the worker (the pipeline) keep their
 * own processes, so a crash or a stall of one never takes another with it.
 */
export const GROUPABLE = ['alerts', 'recorder', 'analytics', 'exporter'] as const;
/**
 * With `--compact` (`canopy up --compact`, for a 1 GB Raspberry Pi): the
 * pipeline, the api and the automation may share that process too. This
 * trades their isolation for memory: a crash of one restarts them all, and
 * the supervisor then drives the outputs to their safe state as it does
 * for the automation's own process.
 */
export const COMPACT_ONLY = ['worker', 'scanner', 'api', 'automation'] as const;
export type Groupable = (typeof GROUPABLE)[number] | (typeof COMPACT_ONLY)[number];

/** Any service's launch: each takes its own command's options (`never` here: called with {@link defaultOptions}). */
type Launch = (opts: never, log: Logger, signal?: AbortSignal) => Promise<ServiceHandle>;
const SERVICES: Record<Groupable, { register: (p: Command) => void; launch: Launch }> = {
  worker: { register: registerPipeline, launch: launchWorker },
  scanner: { register: registerPipeline, launch: launchScanner },
  api: { register: registerApi, launch: launchApi },
  automation: { register: registerAutomation, launch: launchAutomation },
  alerts: { register: registerAlerts, launch: launchAlerts },
  recorder: { register: registerRecorder, launch: launchRecorder },
  analytics: { register: registerAnalytics, launch: launchAnalytics },
  exporter: { register: registerExporter, launch: launchExporter },
};

/** The options a service's own command has when given no flag: its defaults, from the environment where it reads one. */
function defaultOptions(name: Groupable): Record<string, unknown> {
  const p = new Command();
  SERVICES[name].register(p);
  const cmd = p.commands.find((c) => c.name() === name);
  if (!cmd) throw new Error(`command ${name} is not registered`);
  return cmd.opts();
}

/** Parses `alerts,recorder` or several words into distinct groupable names; throws naming the bad one. */
export function parseGroup(words: string[], compact = false): Groupable[] {
  const names = words
    .flatMap((w) => w.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new Error(`name at least one service: ${GROUPABLE.join(', ')}`);
  for (const n of names) {
    if ((COMPACT_ONLY as readonly string[]).includes(n) && !compact)
      throw new Error(`"${n}" cannot run in a group without --compact (it then shares the fate of the others)`);
    if (!(GROUPABLE as readonly string[]).includes(n) && !(COMPACT_ONLY as readonly string[]).includes(n))
      throw new Error(`"${n}" cannot run in a group (only ${[...GROUPABLE, ...COMPACT_ONLY].join(', ')} can)`);
  }
  return [...new Set(names)] as Groupable[];
}

/**
 * How long one service of a group may take to stop before the others stop
 * without waiting for it: a stop that hangs (e.g. on a Redis that is gone)
 * must not keep the automation from driving its outputs safe.
 */
export const GROUP_STOP_TIMEOUT_MS = 10_000;

/** One started service of a group. */
export interface GroupMember {
  name: string;
  handle: ServiceHandle;
  log: Logger;
}

/**
 * Stops every member at once, each given at most `timeoutMs`: one whose stop
 * fails or takes longer is logged under its own name, and the others do not
 * wait for it. Resolves when every member stopped or ran out of time.
 */
export async function stopMembers(members: GroupMember[], timeoutMs: number): Promise<void> {
  const stopOne = async ({ name, handle, log }: GroupMember) => {
    const t0 = performance.now();
    const done = handle.stop().then(
      () => 'stopped' as const,
      (err: unknown) => {
        log.error({ err: (err as Error).message }, `${name} did not stop cleanly`);
        return 'failed' as const;
      },
    );
    const outcome = await withDeadline(done, timeoutMs, () => 'late' as const);
    if (outcome === 'late')
      log.error({ afterMs: timeoutMs }, `${name} did not stop in time; the others go on without it`);
    else log.debug({ ms: Math.round(performance.now() - t0), outcome }, `${name} stopped`);
  };
  await Promise.all(members.map(stopOne));
}

/**
 * Starts the named services in this process, each with its own logger,
 * heartbeat and connections, as its own command would with no flags. If one
 * fails to start, the ones already started are stopped. Stop: all at once,
 * each given at most `stopTimeoutMs` ({@link GROUP_STOP_TIMEOUT_MS}); one
 * that takes longer is logged by name and left behind.
 */
export async function startGroup(
  names: Groupable[],
  logFor: (name: string) => Logger,
  overrides: Partial<Record<Groupable, Record<string, unknown>>> = {},
  stopTimeoutMs = GROUP_STOP_TIMEOUT_MS,
  signal?: AbortSignal,
): Promise<ServiceHandle> {
  const started: GroupMember[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () => (stopping ??= stopMembers(started, stopTimeoutMs));
  // asked to stop while a service is still starting (e.g. waiting for a Redis that is gone): the ones
  // started are stopped at once — the automation drives its outputs safe — and the start fails
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(new Error('stopped while starting'));
    if (signal?.aborted) fail();
    else signal?.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => undefined);
  let launching: { name: string; log: Logger; handle: Promise<ServiceHandle> } | undefined;
  try {
    for (const name of names) {
      const launch = SERVICES[name].launch as (o: unknown, l: Logger, s?: AbortSignal) => Promise<ServiceHandle>;
      const log = logFor(name);
      // the signal ends a start that waits for Redis (its connect retries), so a stop does not wait for it
      launching = { name, log, handle: launch({ ...defaultOptions(name), ...overrides[name] }, log, signal) };
      started.push({ name, handle: await Promise.race([launching.handle, aborted]), log });
      launching = undefined;
    }
  } catch (err) {
    const late = launching;
    if (late) {
      // the one still starting: stopped too if it finishes starting within the stop's time
      const settled = late.handle.then(
        (handle) => stopMembers([{ name: late.name, handle, log: late.log }], stopTimeoutMs),
        () => undefined,
      );
      const [, outcome] = await Promise.all([stopAll(), withDeadline(settled, stopTimeoutMs, () => 'late' as const)]);
      if (outcome === 'late')
        late.log.error({ afterMs: stopTimeoutMs }, `${late.name} was still starting; the others go on without it`);
    } else await stopAll();
    throw err;
  }
  return { stop: stopAll };
}

export function registerGroup(program: Command): void {
  program
    .command('group')
    .argument('<services...>', `services to run in this one process: ${GROUPABLE.join(', ')}`)
    .option('--compact', `also allow ${COMPACT_ONLY.join(', ')} (one process for everything, on a small machine)`)
    .option('--source <source>', "the scanner's frame source (as canopy scanner --source)")
    .description(
      'run several light services in one process (saves about 50 MB of memory per service on a small machine); ' +
        'each keeps its heartbeat and logs under its own name, with its default options and environment. ' +
        'They share one Redis user (REDIS_URL): keep separate processes where each service has its own ACL user.',
    )
    .action(async (services: string[], opts: { compact?: boolean; source?: string }) => {
      const names = parseGroup(services, opts.compact === true);
      const log = createLogger(`group(${names.join(',')})`);
      const overrides = opts.source ? { scanner: { source: opts.source } } : {};
      await runUntilSignal(`group ${names.join(',')}`, log, (signal) =>
        startGroup(names, (n) => createLogger(n), overrides, GROUP_STOP_TIMEOUT_MS, signal),
      );
    });
}
