import { pino, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger };

/** How log lines are written: JSON lines (machines, journald) or one readable line each (a person at a terminal). */
export type LogFormat = 'json' | 'pretty';

/**
 * The log format of this process: `LOG_FORMAT=json|pretty` when set; else
 * `pretty` when stderr is a terminal and the process is not run by systemd
 * (no `INVOCATION_ID` / `JOURNAL_STREAM`), `json` otherwise (pipes, files,
 * journald, `canopy up`'s children unless it passes `LOG_FORMAT` on).
 * An unknown value falls back to `json` (what every collector reads).
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env, tty = process.stderr.isTTY === true): LogFormat {
  const given = env.LOG_FORMAT?.trim().toLowerCase();
  if (given === 'json' || given === 'pretty') return given;
  if (given) return 'json';
  const systemd = Boolean(env.INVOCATION_ID || env.JOURNAL_STREAM);
  return tty && !systemd ? 'pretty' : 'json';
}

const REDACT = { paths: ['password', '*.password', 'token', '*.token', 'url', '*.url'], censor: '***' };

/**
 * The process logger on stderr (stdout stays free for command output), level
 * from `LOG_LEVEL` (default `info`), format from {@link logFormat}. Secrets
 * never go in: known secret fields are redacted in both formats (redaction
 * happens before the line is formatted).
 */
export function createLogger(
  service: string,
  level = process.env.LOG_LEVEL ?? 'info',
  format: LogFormat = logFormat(),
): Logger {
  const opts = { name: service, level, base: { service, pid: process.pid }, redact: REDACT };
  if (format === 'pretty') {
    const stream = pinoPretty({
      destination: 2,
      sync: true,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname,name,service',
      messageFormat: '{service}: {msg}',
    });
    return pino(opts, stream);
  }
  return pino(opts, pino.destination({ dest: 2, sync: false }));
}
