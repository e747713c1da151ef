import { exitAfterStop } from '../util/exit.js';
import { logFormat, type Logger } from '../util/log.js';
import { expectedErrorLine } from './expected.js';
import type { ServiceHandle } from '../services/types.js';

/** Exit status after an uncaught exception or unhandled rejection (the supervisor restarts the service). */
export const EXIT_UNCAUGHT = 70;

/**
 * Installs `uncaughtException` and `unhandledRejection` handlers: the error
 * is logged (name, code, message and stack through the logger's redaction;
 * never the environment) and the process exits with {@link EXIT_UNCAUGHT}
 * once the log line is written (at most 2 s later). A service never runs on
 * in an unknown state: its supervisor (systemd, `canopy up`) restarts it.
 * Returns a function that removes the handlers.
 */
export function installCrashHandlers(
  name: string,
  log: Logger,
  exit: (code: number) => void = process.exit,
): () => void {
  let crashed = false;
  const crash = (kind: 'uncaughtException' | 'unhandledRejection', err: unknown) => {
    if (crashed) return; // a second failure while exiting: the first one is being reported
    crashed = true;
    const e = err instanceof Error ? err : new Error(`non-error value thrown: ${typeof err}`);
    const code = (e as { code?: unknown }).code;
    try {
      log.fatal(
        {
          kind,
          err: { name: e.name, code: typeof code === 'string' ? code : undefined, message: e.message, stack: e.stack },
        },
        `${name}: ${kind}; exiting for the supervisor to restart`,
      );
    } catch {
      // the logger itself failed: exit anyway
    }
    const bye = () => exit(EXIT_UNCAUGHT);
    setTimeout(bye, 2000);
    try {
      log.flush(() => bye());
    } catch {
      bye();
    }
  };
  const onException = (err: unknown) => crash('uncaughtException', err);
  const onRejection = (err: unknown) => crash('unhandledRejection', err);
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}

/**
 * Longest a stop may take once asked for (a signal): past it the process
 * exits with status 1 whatever is still pending — a start that waits for a
 * Redis that is gone, a stop that hangs. Under 30 s, systemd's stop timeout.
 */
export const HARD_STOP_MS = 25_000;

/**
 * Runs a started service until SIGINT, SIGTERM or SIGHUP (a terminal that hung up), then stops it (the batch in
 * hand is finished) and exits 0; a second signal exits at once. A signal
 * that arrives while the service is still starting aborts the start (its
 * `signal`: a start that honours it stops what it started and throws) or,
 * when the start finishes anyway, stops the service the same way (a
 * supervisor that stops everything during start-up gets a clean exit, not a
 * killed process). Either way the process is gone {@link HARD_STOP_MS} after
 * the signal (`hardStopMs`). An uncaught exception or unhandled rejection (also during start) is logged
 * and exits with {@link EXIT_UNCAUGHT} (see {@link installCrashHandlers}).
 */
export async function runUntilSignal(
  name: string,
  log: Logger,
  start: (signal: AbortSignal) => Promise<ServiceHandle>,
  hardStopMs = HARD_STOP_MS,
): Promise<void> {
  installCrashHandlers(name, log);
  let handle: ServiceHandle | undefined;
  let stopping: NodeJS.Signals | undefined;
  const starting = new AbortController();
  const stop = (h: ServiceHandle) =>
    h
      .stop()
      .then(() => exitAfterStop(stopping, 0))
      .catch((err: unknown) => {
        log.error({ err }, `${name} did not stop cleanly`);
        exitAfterStop(stopping, 1);
      });
  const onSignal = (sig: NodeJS.Signals) => {
    // a hang-up can come twice (the kernel, then the login shell passing it on): only a repeated Ctrl+C or SIGTERM hurries
    if (stopping && sig === 'SIGHUP') return;
    if (stopping) process.exit(130);
    stopping = sig;
    const deadline = setTimeout(() => {
      try {
        log.error({ afterMs: hardStopMs }, `${name} did not stop within ${hardStopMs} ms; exiting`);
      } catch {
        // the log is gone too (its pipe closed): exit all the same
      }
      process.exit(1);
    }, hardStopMs);
    deadline.unref();
    if (handle) void stop(handle);
    else starting.abort();
    try {
      log.info({ signal: sig }, handle ? `${name} stopping` : `${name} stopping while starting`);
    } catch {
      // the stop is under way whatever the log does
    }
  };
  // SIGHUP: the terminal hung up (a dropped SSH session); by default it would end the process mid-batch
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  try {
    handle = await start(starting.signal);
  } catch (err) {
    if (starting.signal.aborted) {
      // asked to stop while starting, and the start stopped what it had started
      log.info(`${name} stopped while starting`);
      exitAfterStop(stopping, 0);
      return;
    }
    failedToStart(name, log, err);
  }
  if (stopping) void stop(handle);
}

/**
 * A start that failed: an expected error (docs/errors.md: port in use, Redis
 * or the store unreachable, bad configuration) is one line with its fix and
 * no stack trace; anything else is logged with its stack. The human line goes
 * to stderr unless the log itself is the readable one on this terminal.
 * Exits 1 once the log is flushed.
 */
function failedToStart(name: string, log: Logger, err: unknown): never {
  const line = expectedErrorLine(name, err);
  const code = (err as { code?: unknown }).code;
  if (line) log.fatal({ code: typeof code === 'string' ? code : undefined }, line);
  else log.fatal({ err }, `${name} failed to start`);
  if (!line || logFormat() === 'json') process.stderr.write(`${line ?? `canopy ${name}: ${(err as Error).message}`}\n`);
  log.flush();
  process.exit(1);
}
