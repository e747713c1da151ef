import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stderr (stdout stays free for command
 * output), level from `LOG_LEVEL` (default `info`). Secrets never go in:
 * known secret fields are redacted.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name: service,
      level,
      base: { service, pid: process.pid },
      redact: { paths: ['password', '*.password', 'token', '*.token', 'url', '*.url'], censor: '***' },
    },
    pino.destination({ dest: 2, sync: false }),
  );
}
