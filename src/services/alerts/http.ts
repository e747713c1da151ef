/**
 * One HTTP request of a notification channel, with a typed outcome: a
 * {@link NotifyError} whose `retryable` says whether sending again can help.
 * Messages never contain the URL (it may hold a token) or the request body.
 */

export type NotifyErrorCode =
  /** The receiver refused the request (HTTP 4xx other than 408/429): sending it again cannot help. */
  | 'NOTIFY_REJECTED'
  /** The receiver failed (HTTP 5xx, 408, 429): retried with backoff. */
  | 'NOTIFY_FAILED'
  /** No answer: connection refused, DNS, timeout. Retried with backoff. */
  | 'NOTIFY_UNREACHABLE';

export class NotifyError extends Error {
  readonly code: NotifyErrorCode;
  /** The channel (`ntfy`, `telegram`, `sms:2`, …). */
  readonly channel: string;
  /** HTTP status, when the receiver answered. */
  readonly status: number | undefined;
  constructor(code: NotifyErrorCode, channel: string, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.name = 'NotifyError';
    this.code = code;
    this.channel = channel;
    this.status = options?.status;
  }

  /** Whether the same request may succeed later. */
  get retryable(): boolean {
    return this.code !== 'NOTIFY_REJECTED';
  }
}

export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** Sends one request; resolves on 2xx, throws {@link NotifyError} otherwise. */
export async function sendHttp(channel: string, req: HttpRequest, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      ...(req.body !== undefined ? { body: req.body } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    // the cause names at most host and port, never the path (where tokens live); it is not logged anyway
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'could not connect';
    throw new NotifyError('NOTIFY_UNREACHABLE', channel, `${channel}: ${why}`, { cause: err });
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.ok) return;
  const s = res.status;
  const retry = s >= 500 || s === 408 || s === 429;
  throw new NotifyError(retry ? 'NOTIFY_FAILED' : 'NOTIFY_REJECTED', channel, `${channel} answered HTTP ${s}`, {
    status: s,
  });
}

/** RFC 2047 encoded word for a header value that is not plain ASCII (ntfy decodes it). */
export function headerText(s: string): string {
  const flat = s.replace(/[\r\n]+/g, ' ');
  if (/^[\x20-\x7e]*$/.test(flat)) return flat;
  return `=?UTF-8?B?${Buffer.from(flat, 'utf8').toString('base64')}?=`;
}
