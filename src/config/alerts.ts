import { defaultConfigFile } from '../can/paths.js';
import { list, text } from './read.js';

/**
 * What `canopy alerts` takes from the environment (docs/configuration.md).
 * Secrets (`ALERTS_WEBHOOK_URL`, `ALERTS_SMTP_URL`, `ALERTS_NTFY_URL`,
 * `ALERTS_NTFY_TOKEN`, `ALERTS_TELEGRAM_TOKEN`, `ALERTS_SMS_AUTH`) may come
 * from `NAME_FILE` or a systemd credential (applied by the CLI before this runs).
 */
export interface AlertsEnv {
  /** `ALERTS_CONFIG`, else the shipped `config/alerts.yaml`. */
  configPath: string;
  notifier: {
    webhookUrl: string | undefined;
    smtpUrl: string | undefined;
    emailTo: string[];
    emailFrom: string;
    ntfy: { url: string; token: string | undefined } | undefined;
    telegram: { token: string; chatIds: string[]; baseUrl?: string } | undefined;
    sms:
      | {
          url: string;
          to: string[];
          method: 'GET' | 'POST' | 'PUT';
          body?: string;
          contentType?: string;
          auth: string | undefined;
          authHeader?: string;
        }
      | undefined;
  };
}

export function alertsEnv(env: NodeJS.ProcessEnv = process.env): AlertsEnv {
  const method = (env.ALERTS_SMS_METHOD || 'POST').toUpperCase();
  const ntfy = text(env, 'ALERTS_NTFY_URL');
  const telegram = text(env, 'ALERTS_TELEGRAM_TOKEN');
  const telegramApi = text(env, 'ALERTS_TELEGRAM_API');
  const sms = text(env, 'ALERTS_SMS_URL');
  const smsBody = text(env, 'ALERTS_SMS_BODY');
  const smsType = text(env, 'ALERTS_SMS_CONTENT_TYPE');
  const smsHeader = text(env, 'ALERTS_SMS_AUTH_HEADER');
  return {
    configPath: env.ALERTS_CONFIG || defaultConfigFile('alerts.yaml'),
    notifier: {
      webhookUrl: text(env, 'ALERTS_WEBHOOK_URL'),
      smtpUrl: text(env, 'ALERTS_SMTP_URL'),
      emailTo: list(env, 'ALERTS_EMAIL_TO'),
      emailFrom: env.ALERTS_EMAIL_FROM || 'canopy@localhost',
      ntfy: ntfy ? { url: ntfy, token: text(env, 'ALERTS_NTFY_TOKEN') } : undefined,
      telegram: telegram
        ? {
            token: telegram,
            chatIds: list(env, 'ALERTS_TELEGRAM_CHAT_ID'),
            ...(telegramApi ? { baseUrl: telegramApi } : {}),
          }
        : undefined,
      sms: sms
        ? {
            url: sms,
            to: list(env, 'ALERTS_SMS_TO'),
            method: method as 'GET' | 'POST' | 'PUT',
            ...(smsBody ? { body: smsBody } : {}),
            ...(smsType ? { contentType: smsType } : {}),
            auth: text(env, 'ALERTS_SMS_AUTH'),
            ...(smsHeader ? { authHeader: smsHeader } : {}),
          }
        : undefined,
    },
  };
}
