import nodemailer from 'nodemailer';
import type { Logger } from '../../util/log.js';
import type { AlertTransition } from './engine.js';

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
  /** @defaultValue 5000 — wait before retrying a channel whose send failed. */
  retryMs: number;
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
  groupWindowMs: 2000,
  maxPerMessage: 50,
  retryMs: 5000,
  maxQueue: 10_000,
  timeoutMs: 10_000,
};

export interface NotifierStats {
  /** Notifications delivered, per channel. */
  sent: Record<string, number>;
  /** Failed attempts (retried), per channel. */
  failed: Record<string, number>;
  /** Transitions dropped because a channel's queue overflowed (announced, never silent). */
  dropped: Record<string, number>;
}

interface Channel {
  name: 'webhook' | 'email';
  send: (batch: AlertTransition[], droppedBefore: number) => Promise<void>;
  queue: AlertTransition[];
  dropped: number;
  busy: boolean;
  timer: NodeJS.Timeout | undefined;
}

const label = { fired: 'FIRING', resolved: 'RESOLVED', reminder: 'STILL ACTIVE' } as const;

/** `[Canopy] FIRING warning: …` for one; `[Canopy] 3 alerts: 2 firing, 1 resolved` for a group. */
export function subjectOf(batch: AlertTransition[]): string {
  if (batch.length === 1) {
    const t = batch[0] as AlertTransition;
    return `[Canopy] ${label[t.type]} ${t.alert.severity}: ${t.alert.message}`;
  }
  const counts = new Map<string, number>();
  for (const t of batch) counts.set(t.type, (counts.get(t.type) ?? 0) + 1);
  const parts = (['fired', 'reminder', 'resolved'] as const)
    .filter((k) => counts.get(k))
    .map((k) => `${counts.get(k)} ${k === 'fired' ? 'firing' : k === 'reminder' ? 'still active' : 'resolved'}`);
  return `[Canopy] ${batch.length} alerts: ${parts.join(', ')}`;
}

export function textOf(batch: AlertTransition[], droppedBefore: number): string {
  const lines = batch.map(
    (t) =>
      `${label[t.type]}  [${t.alert.severity}] ${t.alert.message} (since ${t.alert.started_at}, rule ${t.alert.rule})`,
  );
  if (droppedBefore > 0)
    lines.push('', `${droppedBefore} earlier notifications could not be delivered and were dropped.`);
  return lines.join('\n') + '\n';
}

/**
 * Sends alert transitions by webhook and e-mail. Transitions are grouped
 * (one notification per `groupWindowMs`, split at `maxPerMessage`); each
 * channel has its own queue and retries on failure, so a dead mail server
 * neither blocks the webhook nor loses alerts.
 */
export class Notifier {
  readonly options: NotifierOptions;
  readonly #log: Logger;
  readonly #channels: Channel[] = [];
  readonly #stats: NotifierStats = { sent: {}, failed: {}, dropped: {} };
  #closed = false;

  constructor(options: Partial<NotifierOptions>, log: Logger) {
    const o = { ...NOTIFIER_DEFAULTS, ...options };
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
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
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

  #add(name: Channel['name'], send: Channel['send']): void {
    this.#channels.push({ name, send, queue: [], dropped: 0, busy: false, timer: undefined });
    this.#stats.sent[name] = 0;
    this.#stats.failed[name] = 0;
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
          this.#stats.failed[c.name] = (this.#stats.failed[c.name] ?? 0) + 1;
          this.#log.warn(
            { channel: c.name, err: (err as Error).message, pending: c.queue.length },
            'notification failed; will retry',
          );
          this.#schedule(c, this.options.retryMs);
          return;
        }
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
