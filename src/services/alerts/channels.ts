import { ConfigError } from '../../bus/errors.js';
import type { AlertTransition } from '../../cea/alerts/engine.js';
import { headerText, sendHttp } from './http.js';

/**
 * The push channels a grower's phone receives: ntfy-style HTTP push, a
 * Telegram-style bot API and SMS through an HTTP gateway. Each builds the
 * request of one notification; {@link Notifier} queues, groups and retries.
 * Tokens come from the environment (or `…_FILE`) and are never logged.
 */

/** ntfy-style push: POST the text to a topic URL. */
export interface NtfyOptions {
  /** Topic URL, e.g. `https://ntfy.sh/my-grow-room-7f3a` — `ALERTS_NTFY_URL` (the topic name is a secret too). */
  url: string;
  /** @defaultValue unset — `ALERTS_NTFY_TOKEN`: sent as `Authorization: Bearer <token>`. */
  token: string | undefined;
  /** @defaultValue `{ critical: 5, warning: 4, info: 3 }` — ntfy priority (1–5) per severity; others 3. */
  priorities: Record<string, number>;
}

export const NTFY_DEFAULTS: Omit<NtfyOptions, 'url'> = {
  token: undefined,
  priorities: { critical: 5, warning: 4, info: 3 },
};

/** Telegram-style bot API: POST `{base}/bot<token>/sendMessage` with `{chat_id, text}`. */
export interface TelegramOptions {
  /** Bot token — `ALERTS_TELEGRAM_TOKEN`. */
  token: string;
  /** Chats (one channel each) — `ALERTS_TELEGRAM_CHAT_ID`, comma separated. */
  chatIds: string[];
  /** @defaultValue `https://api.telegram.org` — `ALERTS_TELEGRAM_API`. */
  baseUrl: string;
  /** @defaultValue 4096 — longer texts are cut (Telegram's limit). */
  maxChars: number;
}

export const TELEGRAM_DEFAULTS: Omit<TelegramOptions, 'token' | 'chatIds'> = {
  baseUrl: 'https://api.telegram.org',
  maxChars: 4096,
};

/** SMS through an HTTP gateway, described by templates with `{to}` and `{text}`. */
export interface SmsOptions {
  /** URL template — `ALERTS_SMS_URL`; `{to}`/`{text}` in it are URL-encoded. */
  url: string;
  /** Recipients (one channel each) — `ALERTS_SMS_TO`, comma separated. */
  to: string[];
  /** @defaultValue `POST` — `ALERTS_SMS_METHOD` (GET sends no body). */
  method: 'GET' | 'POST' | 'PUT';
  /** @defaultValue `to={to}&text={text}` — `ALERTS_SMS_BODY`; values encoded for `contentType`. */
  body: string;
  /** @defaultValue `application/x-www-form-urlencoded` — `ALERTS_SMS_CONTENT_TYPE` (`application/json` JSON-escapes the values). */
  contentType: string;
  /** @defaultValue unset — `ALERTS_SMS_AUTH`: the whole header value, e.g. `Basic dXNlcjpwYXNz`. */
  auth: string | undefined;
  /** @defaultValue `Authorization` — `ALERTS_SMS_AUTH_HEADER` (e.g. `X-API-Key`). */
  authHeader: string;
  /** @defaultValue 160 — longer texts are cut with `…`. */
  maxChars: number;
}

export const SMS_DEFAULTS: Omit<SmsOptions, 'url' | 'to'> = {
  method: 'POST',
  body: 'to={to}&text={text}',
  contentType: 'application/x-www-form-urlencoded',
  auth: undefined,
  authHeader: 'Authorization',
  maxChars: 160,
};

/** One channel: a name for stats and logs, and how to deliver one notification. */
export interface ChannelSpec {
  name: string;
  send: (batch: AlertTransition[], droppedBefore: number) => Promise<void>;
}

const label = {
  fired: 'FIRING',
  resolved: 'RESOLVED',
  reminder: 'STILL ACTIVE',
  acknowledged: 'ACKNOWLEDGED',
} as const;

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

/** Cuts `s` to `max` characters (code points), ending with `…` when cut. */
export function cut(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** Cuts `s` so that its UTF-8 form fits in `maxBytes`, ending with `…` when cut. */
export function cutBytes(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  const chars = [...s];
  let bytes = 3; // the ellipsis
  let i = 0;
  while (i < chars.length && bytes + Buffer.byteLength(chars[i] as string, 'utf8') <= maxBytes)
    bytes += Buffer.byteLength(chars[i++] as string, 'utf8');
  return `${chars.slice(0, i).join('')}…`;
}

/** The ntfy priority of a notification: the highest of its firing/reminder alerts; 3 when only resolved. */
export function ntfyPriority(batch: AlertTransition[], priorities: Record<string, number>): number {
  let p = 0;
  for (const t of batch) if (t.type !== 'resolved') p = Math.max(p, priorities[t.alert.severity] ?? 3);
  return p || 3;
}

/** ntfy tags (emoji short codes and the severities), in a fixed order. */
export function ntfyTags(batch: AlertTransition[]): string {
  const tags: string[] = [];
  const add = (t: string) => void (tags.includes(t) || tags.push(t));
  for (const t of batch)
    add(
      t.type === 'fired'
        ? 'rotating_light'
        : t.type === 'reminder'
          ? 'repeat'
          : t.type === 'acknowledged'
            ? 'eyes'
            : 'white_check_mark',
    );
  for (const t of batch) add(t.alert.severity);
  return tags.join(',');
}

/** One line for a text message: `Canopy FIRING warning: …` or `Canopy 2 alerts: …: a; b`. */
export function smsTextOf(batch: AlertTransition[], droppedBefore: number, max: number): string {
  const head = subjectOf(batch).replace(/^\[Canopy\] /, 'Canopy ');
  const body = batch.length === 1 ? head : `${head}: ${batch.map((t) => t.alert.message).join('; ')}`;
  return cut(droppedBefore > 0 ? `${body} (+${droppedBefore} undelivered)` : body, max);
}

function checkUrl(what: string, url: string): void {
  let u: URL;
  try {
    u = new URL(url.replace(/\{(to|text)\}/g, 'x'));
  } catch (cause) {
    throw new ConfigError(`${what} is not a URL`, { cause });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${what} must be http(s)`);
}

const positive = (what: string, n: number) => {
  if (!(Number.isInteger(n) && n > 0)) throw new ConfigError(`${what} must be a positive integer`);
};

export function ntfyChannel(opts: Partial<NtfyOptions> & { url: string }, timeoutMs: number): ChannelSpec {
  const o: NtfyOptions = { ...NTFY_DEFAULTS, ...opts };
  checkUrl('the ntfy topic URL (ALERTS_NTFY_URL)', o.url);
  for (const [sev, p] of Object.entries(o.priorities))
    if (!(Number.isInteger(p) && p >= 1 && p <= 5)) throw new ConfigError(`ntfy priority of ${sev} must be 1–5`);
  return {
    name: 'ntfy',
    send: (batch, dropped) =>
      sendHttp(
        'ntfy',
        {
          method: 'POST',
          url: o.url,
          headers: {
            'content-type': 'text/plain; charset=utf-8',
            title: headerText(subjectOf(batch)),
            priority: String(ntfyPriority(batch, o.priorities)),
            tags: ntfyTags(batch),
            ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          },
          // ntfy turns a message over 4096 bytes into an attachment
          body: cutBytes(textOf(batch, dropped), 4096),
        },
        timeoutMs,
      ),
  };
}

export function telegramChannels(
  opts: Partial<TelegramOptions> & { token: string; chatIds: string[] },
  timeoutMs: number,
): ChannelSpec[] {
  const o: TelegramOptions = { ...TELEGRAM_DEFAULTS, ...opts };
  checkUrl('the Telegram API base (ALERTS_TELEGRAM_API)', o.baseUrl);
  if (!/^[A-Za-z0-9:_-]+$/.test(o.token))
    throw new ConfigError('ALERTS_TELEGRAM_TOKEN has characters a bot token has not');
  if (o.chatIds.length === 0) throw new ConfigError('a Telegram token needs ALERTS_TELEGRAM_CHAT_ID');
  positive('the Telegram text limit', o.maxChars);
  const url = `${o.baseUrl.replace(/\/+$/, '')}/bot${o.token}/sendMessage`;
  return o.chatIds.map((chatId, i) => {
    const name = o.chatIds.length === 1 ? 'telegram' : `telegram:${i + 1}`;
    return {
      name,
      send: (batch, dropped) =>
        sendHttp(
          name,
          {
            method: 'POST',
            url,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              chat_id: chatId,
              text: cut(`${subjectOf(batch)}\n\n${textOf(batch, dropped)}`, o.maxChars),
            }),
          },
          timeoutMs,
        ),
    };
  });
}

/** Fills `{to}` and `{text}` of a template, each value encoded by `enc`. */
export function fillTemplate(
  template: string,
  values: { to: string; text: string },
  enc: (s: string) => string,
): string {
  return template.replace(/\{(to|text)\}/g, (_m, k: 'to' | 'text') => enc(values[k]));
}

const jsonInner = (s: string) => JSON.stringify(s).slice(1, -1);

export function smsChannels(
  opts: Partial<SmsOptions> & { url: string; to: string[] },
  timeoutMs: number,
): ChannelSpec[] {
  const o: SmsOptions = { ...SMS_DEFAULTS, ...opts };
  checkUrl('the SMS gateway URL (ALERTS_SMS_URL)', o.url);
  if (!['GET', 'POST', 'PUT'].includes(o.method)) throw new ConfigError('ALERTS_SMS_METHOD must be GET, POST or PUT');
  if (o.to.length === 0) throw new ConfigError('an SMS gateway needs ALERTS_SMS_TO');
  if (!/^[A-Za-z0-9-]+$/.test(o.authHeader)) throw new ConfigError('ALERTS_SMS_AUTH_HEADER is not a header name');
  positive('the SMS text limit', o.maxChars);
  const bodyEnc = /json/i.test(o.contentType) ? jsonInner : encodeURIComponent;
  return o.to.map((to, i) => {
    const name = o.to.length === 1 ? 'sms' : `sms:${i + 1}`;
    return {
      name,
      send: (batch, dropped) => {
        const values = { to, text: smsTextOf(batch, dropped, o.maxChars) };
        return sendHttp(
          name,
          {
            method: o.method,
            url: fillTemplate(o.url, values, encodeURIComponent),
            headers: {
              ...(o.method !== 'GET' ? { 'content-type': o.contentType } : {}),
              ...(o.auth ? { [o.authHeader.toLowerCase()]: o.auth } : {}),
            },
            ...(o.method !== 'GET' ? { body: fillTemplate(o.body, values, bodyEnc) } : {}),
          },
          timeoutMs,
        );
      },
    };
  });
}
