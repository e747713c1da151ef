import nodemailer from 'nodemailer';
import { ConfigError } from '../../bus/errors.js';
import type { Logger } from '../../util/log.js';
import {
  ntfyChannel,
  smsChannels,
  subjectOf,
  telegramChannels,
  textOf,
  type ChannelSpec,
  type NtfyOptions,
  type SmsOptions,
  type TelegramOptions,
} from './channels.js';
import type { AlertTransition } from '../../cea/alerts/engine.js';
import { NotifyError, sendHttp } from './http.js';

/** Where and how notifications go. Secrets (URLs with passwords) come from the environment only. */
export interface NotifierOptions {
  /** @defaultValue unset — `ALERTS_WEBHOOK_URL`: POSTed a JSON body per notification. */
  webhookUrl: string | undefined;
  /** @defaultValue unset — `ALERTS_SMTP_URL`: `smtp://user:pass@host:port` or `smtps://…`. */
  smtpUrl: string | undefined;
  /** @defaultValue `[]` — `ALERTS_EMAIL_TO`, comma separated. */
  emailTo: string[];
  /** @defaultValue `canopy@localhost` — `ALERTS_EMAIL_FROM`. */
  emailFrom: string;
  /** @defaultValue 2000 — transitions arriving within this window after the first are sent as one notification. */
  groupWindowMs: number;
  /** @defaultValue 50 — alerts per notification; a larger group becomes several notifications, none dropped. */
  maxPerMessage: number;
  /** @defaultValue unset — ntfy-style push (`ALERTS_NTFY_URL`, `ALERTS_NTFY_TOKEN`). */
  ntfy: (Partial<NtfyOptions> & { url: string }) | undefined;
  /** @defaultValue unset — Telegram-style bot (`ALERTS_TELEGRAM_TOKEN`, `ALERTS_TELEGRAM_CHAT_ID`). */
  telegram: (Partial<TelegramOptions> & { token: string; chatIds: string[] }) | undefined;
  /** @defaultValue unset — SMS through an HTTP gateway (`ALERTS_SMS_URL`, `ALERTS_SMS_TO`, …). */
  sms: (Partial<SmsOptions> & { url: string; to: string[] }) | undefined;
  /** @defaultValue 5000 — first wait before retrying a channel whose send failed (5xx, no answer); doubled per failure. */
  retryMs: number;
  /** @defaultValue 300000 — the longest wait between retries. */
  maxRetryMs: number;
  /** @defaultValue 10000 — pending transitions per channel; beyond that the oldest are dropped, counted, logged and announced in the next notification. */
  maxQueue: number;
  /** @defaultValue 10000 — HTTP/SMTP timeout. */
  timeoutMs: number;
}

export const NOTIFIER_DEFAULTS: NotifierOptions = {
  webhookUrl: undefined,
  smtpUrl: undefined,
  emailTo: [],
  emailFrom: 'canopy@localhost',
  ntfy: undefined,
  telegram: undefined,
  sms: undefined,
  groupWindowMs: 2000,
  maxPerMessage: 50,
  retryMs: 5000,
  maxRetryMs: 300_000,
  maxQueue: 10_000,
  timeoutMs: 10_000,
};

export interface NotifierStats {
  /** Notifications delivered, per channel. */
  sent: Record<string, number>;
  /** Failed attempts (retried), per channel. */
  failed: Record<string, number>;
  /** Notifications the receiver refused (HTTP 4xx): not retried, announced in the next one. */
  rejected: Record<string, number>;
  /** Transitions dropped because a channel's queue overflowed (announced, never silent). */
  dropped: Record<string, number>;
  /** The last failure of each channel that failed (its message: channel and HTTP status, never a secret). */
  lastError: Record<string, string>;
}

interface Channel extends ChannelSpec {
  /** Consecutive failed attempts (sets the backoff). */
  failures: number;
  queue: AlertTransition[];
  dropped: number;
  busy: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Sends alert transitions by webhook, e-mail, ntfy, Telegram and SMS.
 * Transitions are grouped (one notification per `groupWindowMs`, split at
 * `maxPerMessage`); each channel has its own queue and retries with
 * exponential backoff when the receiver fails (5xx, 408, 429, no answer),
 * so a dead mail server neither blocks the phone push nor loses alerts. A
 * notification the receiver refuses (4xx) is not retried: it is counted in
 * `rejected`, logged, and announced in the channel's next notification.
 */
export class Notifier {
  readonly options: NotifierOptions;
  readonly #log: Logger;
  readonly #channels: Channel[] = [];
  readonly #stats: NotifierStats = { sent: {}, failed: {}, rejected: {}, dropped: {}, lastError: {} };
  #closed = false;

  constructor(options: Partial<NotifierOptions>, log: Logger) {
    const o = { ...NOTIFIER_DEFAULTS, ...options };
    for (const k of ['groupWindowMs', 'maxPerMessage', 'retryMs', 'maxRetryMs', 'maxQueue', 'timeoutMs'] as const) {
      if (!(o[k] >= 0)) throw new ConfigError(`notifier option ${k} must be a number >= 0`);
    }
    this.options = o;
    this.#log = log;
    if (o.webhookUrl) {
      const url = o.webhookUrl;
      this.#add('webhook', async (batch, dropped) => {
        const body = {
          source: 'canopy',
          sent_at: new Date().toISOString(),
          count: batch.length,
          dropped_before: dropped,
          alerts: batch.map((t) => ({ status: t.type, ...t.alert })),
        };
        await sendHttp(
          'webhook',
          { method: 'POST', url, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
          o.timeoutMs,
        );
      });
    }
    if (o.smtpUrl && o.emailTo.length > 0) {
      const transport = nodemailer.createTransport(o.smtpUrl, {
        connectionTimeout: o.timeoutMs,
        greetingTimeout: o.timeoutMs,
        socketTimeout: o.timeoutMs,
      } as never);
      this.#add('email', async (batch, dropped) => {
        await transport.sendMail({
          from: o.emailFrom,
          to: o.emailTo,
          subject: subjectOf(batch),
          text: textOf(batch, dropped),
        });
      });
    }
    const more = [
      ...(o.ntfy ? [ntfyChannel(o.ntfy, o.timeoutMs)] : []),
      ...(o.telegram ? telegramChannels(o.telegram, o.timeoutMs) : []),
      ...(o.sms ? smsChannels(o.sms, o.timeoutMs) : []),
    ];
    for (const ch of more) this.#add(ch.name, ch.send);
  }

  /** The configured channels. */
  get channels(): string[] {
    return this.#channels.map((c) => c.name);
  }

  get stats(): NotifierStats {
    return structuredClone(this.#stats);
  }

  /** Transitions still waiting to be delivered, per channel. */
  get pending(): Record<string, number> {
    return Object.fromEntries(this.#channels.map((c) => [c.name, c.queue.length]));
  }

  /** Queues transitions; the first one opens a group window. */
  push(transitions: AlertTransition[]): void {
    if (transitions.length === 0 || this.#closed) return;
    for (const c of this.#channels) {
      c.queue.push(...transitions);
      const over = c.queue.length - this.options.maxQueue;
      if (over > 0) {
        c.queue.splice(0, over);
        c.dropped += over;
        this.#stats.dropped[c.name] = (this.#stats.dropped[c.name] ?? 0) + over;
        this.#log.error({ channel: c.name, dropped: over }, 'notification queue overflow: oldest alerts dropped');
      }
      this.#schedule(c, this.options.groupWindowMs);
    }
  }

  /** Sends everything queued now (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all(this.#channels.map((c) => this.#drain(c)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const c of this.#channels) clearTimeout(c.timer);
    const left = this.#channels.reduce((n, c) => n + c.queue.length, 0);
    if (left > 0) this.#log.warn({ pending: this.pending }, 'stopping with undelivered notifications');
  }

  #add(name: string, send: Channel['send']): void {
    this.#channels.push({ name, send, failures: 0, queue: [], dropped: 0, busy: false, timer: undefined });
    this.#stats.sent[name] = 0;
    this.#stats.failed[name] = 0;
    this.#stats.rejected[name] = 0;
    this.#stats.dropped[name] = 0;
  }

  #schedule(c: Channel, ms: number): void {
    if (c.timer || this.#closed) return;
    c.timer = setTimeout(() => {
      c.timer = undefined;
      void this.#drain(c);
    }, ms);
    c.timer.unref();
  }

  async #drain(c: Channel): Promise<void> {
    if (c.busy) return;
    c.busy = true;
    try {
      while (c.queue.length > 0) {
        const batch = c.queue.slice(0, this.options.maxPerMessage);
        try {
          await c.send(batch, c.dropped);
        } catch (err) {
          if (err instanceof NotifyError && !err.retryable) {
            // the receiver refuses this notification: sending it again cannot help
            c.queue.splice(0, batch.length);
            c.dropped += batch.length;
            c.failures = 0;
            this.#stats.rejected[c.name] = (this.#stats.rejected[c.name] ?? 0) + 1;
            this.#stats.lastError[c.name] = err.message;
            this.#log.error(
              { channel: c.name, err: err.message, code: err.code, alerts: batch.length },
              'notification refused by the receiver; not retried',
            );
            continue;
          }
          c.failures++;
          this.#stats.failed[c.name] = (this.#stats.failed[c.name] ?? 0) + 1;
          this.#stats.lastError[c.name] = (err as Error).message;
          const wait = Math.min(this.options.retryMs * 2 ** (c.failures - 1), this.options.maxRetryMs);
          this.#log.warn(
            {
              channel: c.name,
              err: (err as Error).message,
              ...(err instanceof NotifyError ? { code: err.code } : {}),
              pending: c.queue.length,
              retry_in_ms: wait,
            },
            'notification failed; will retry',
          );
          this.#schedule(c, wait);
          return;
        }
        c.failures = 0;
        c.queue.splice(0, batch.length);
        c.dropped = 0;
        this.#stats.sent[c.name] = (this.#stats.sent[c.name] ?? 0) + 1;
        this.#log.info({ channel: c.name, alerts: batch.length }, 'notification sent');
      }
    } finally {
      c.busy = false;
    }
  }
}

/** What one channel did with the test notification. */
export interface ChannelTestResult {
  channel: string;
  ok: boolean;
  /** Why not (channel and HTTP status or connection problem; never a secret). */
  error?: string;
}

/**
 * Sends one test notification through every configured channel, once (no
 * retry), and says per channel whether it arrived — `canopy alerts --test`.
 */
export async function sendTestNotification(
  options: Partial<NotifierOptions>,
  log: Logger,
  now = Date.now(),
): Promise<ChannelTestResult[]> {
  const n = new Notifier({ ...options, retryMs: 3_600_000, maxRetryMs: 3_600_000 }, log);
  try {
    n.push([
      {
        type: 'fired',
        at: now,
        alert: {
          key: 'test:canopy',
          rule: 'test',
          subject: 'canopy',
          kind: 'threshold',
          severity: 'info',
          message: 'test notification from canopy alerts: this channel works',
          started_at: new Date(now).toISOString(),
        },
      },
    ]);
    await n.flush();
    const s = n.stats;
    return n.channels.map((channel) =>
      s.sent[channel] ? { channel, ok: true } : { channel, ok: false, error: s.lastError[channel] ?? 'not sent' },
    );
  } finally {
    await n.close();
  }
}
