/**
 * The bus error taxonomy. Every error the bus raises is a {@link BusError}
 * with a stable `code`; callers check with `instanceof` or `code`, never by
 * matching message text. The original error is kept as `cause`.
 */
export type BusErrorCode =
  | 'BUS_CONFIG'
  | 'BUS_CONNECTION'
  | 'BUS_AUTH'
  | 'BUS_TIMEOUT'
  | 'BUS_CLOSED'
  | 'BUS_REPLY'
  | 'BUS_NOPERM'
  | 'BUS_VERSION'
  | 'BUS_DECODE'
  | 'BUS_VALIDATION'
  | 'BUS_RETRY';

export class BusError extends Error {
  readonly code: BusErrorCode;
  constructor(code: BusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusError';
    this.code = code;
  }
}

/** Bad options (an unparseable Redis URL, a negative timeout, …). */
export class ConfigError extends BusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BUS_CONFIG', message, options);
    this.name = 'ConfigError';
  }
}

/** Transport: the server could not be reached or the socket broke. */
export class ConnectionError extends BusError {
  constructor(message: string, options?: { cause?: unknown; code?: BusErrorCode }) {
    super(options?.code ?? 'BUS_CONNECTION', message, options);
    this.name = 'ConnectionError';
  }
}

/** Transport: the server refused our credentials (WRONGPASS, NOAUTH). */
export class AuthError extends ConnectionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: 'BUS_AUTH' });
    this.name = 'AuthError';
  }
}

/** Transport: connect or command did not finish within its timeout. */
export class TimeoutError extends ConnectionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: 'BUS_TIMEOUT' });
    this.name = 'TimeoutError';
  }
}

/** The connection was closed by us; no more commands are accepted. */
export class ClosedError extends BusError {
  constructor(message = 'connection is closed', options?: { cause?: unknown }) {
    super('BUS_CLOSED', message, options);
    this.name = 'ClosedError';
  }
}

/** Server reply: Redis answered with an error (WRONGTYPE, BUSYGROUP, …). */
export class ReplyError extends BusError {
  /**
   * The first word of the server's reply, e.g. `WRONGTYPE`, `NOPERM`,
   * `READONLY`, `BUSYGROUP`: what to branch on (never the message text, which
   * starts with the context of the call).
   */
  readonly reply: string;
  /** `serverMessage`: the server's own error text (defaults to `message`), whose first word is {@link reply}. */
  constructor(message: string, options?: { cause?: unknown; code?: BusErrorCode; serverMessage?: string }) {
    super(options?.code ?? 'BUS_REPLY', message, options);
    this.name = 'ReplyError';
    this.reply = (options?.serverMessage ?? message).split(' ', 1)[0] ?? '';
  }
}

/** Server reply: the ACL user may not run this command or touch this key. */
export class PermissionError extends ReplyError {
  constructor(message: string, options?: { cause?: unknown; serverMessage?: string }) {
    super(message, { ...options, code: 'BUS_NOPERM' });
    this.name = 'PermissionError';
  }
}

/** The server is older than the minimum the bus supports. */
export class VersionError extends BusError {
  constructor(message: string) {
    super('BUS_VERSION', message);
    this.name = 'VersionError';
  }
}

/** Domain: a message could not be decoded by its codec. */
export class DecodeError extends BusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BUS_DECODE', message, options);
    this.name = 'DecodeError';
  }
}

/** Domain: a decoded message does not match its schema. */
export class ValidationError extends BusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BUS_VALIDATION', message, options);
    this.name = 'ValidationError';
  }
}

/**
 * Thrown by a stream batch handler for a passing failure (the store is
 * down): the worker retries the same batch in memory with backoff, without
 * a new delivery, so the entries do not creep towards the dead-letter limit.
 */
export class RetryableError extends BusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BUS_RETRY', message, options);
    this.name = 'RetryableError';
  }
}

const AUTH_REPLIES = ['WRONGPASS', 'NOAUTH', 'ERR invalid password', 'ERR AUTH'];

/** Maps an error thrown by the Redis client to the taxonomy above. */
export function toBusError(err: unknown, context?: string): BusError {
  if (err instanceof BusError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const prefix = context ? `${context}: ` : '';
  const ctor = e.constructor?.name ?? '';
  const msg = e.message ?? '';
  if (AUTH_REPLIES.some((r) => msg.startsWith(r))) {
    return new AuthError(`${prefix}authentication refused by Redis (${msg})`, { cause: e });
  }
  if (msg.startsWith('NOPERM')) return new PermissionError(`${prefix}${msg}`, { cause: e, serverMessage: msg });
  if (ctor === 'ErrorReply' || ctor === 'SimpleError' || ctor === 'BlobError' || ctor === 'MultiErrorReply') {
    return new ReplyError(`${prefix}${msg}`, { cause: e, serverMessage: msg });
  }
  if (ctor === 'ConnectionTimeoutError' || ctor === 'TimeoutError' || ctor === 'SocketTimeoutError') {
    return new TimeoutError(`${prefix}timed out (${msg})`, { cause: e });
  }
  if (ctor === 'ClientClosedError') return new ClosedError(`${prefix}connection is closed`, { cause: e });
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ECONNRESET') {
    return new ConnectionError(`${prefix}cannot reach Redis (${code}: ${msg})`, { cause: e });
  }
  return new ConnectionError(`${prefix}${msg || ctor || 'Redis error'}`, { cause: e });
}
