import type { Command } from 'commander';
import { sendTestNotification, start } from '../../services/alerts/index.js';
import { openStore, type Store } from '../../store/index.js';
import { createLogger, type Logger } from '../../util/log.js';
import type { ServiceHandle } from '../../services/types.js';
import { runUntilSignal } from '../run-service.js';
import { alertsEnv } from '../../config/alerts.js';
import { loadBaseConfig } from '../../config/env.js';

export function registerAlerts(program: Command): void {
  program
    .command('alerts')
    .description(
      'alert on readings (above/below for a duration, with hysteresis), stale sensors, vanished services and ' +
        'devices in failsafe; notify by webhook, e-mail, ntfy push, Telegram bot and SMS gateway (ALERTS_* variables); ' +
        'active alerts in alerts:active, transitions on alerts:update',
    )
    .option('--rules <file>', 'alert rules (YAML; env ALERTS_CONFIG; default: the shipped config/alerts.yaml)')
    .option('--no-store', 'do not write the alerts table of the store (DATABASE_URL)')
    .option('--test', 'send one test notification through every configured channel, print the outcome, exit')
    .action(async (opts: AlertsOpts) => {
      const log = createLogger('alerts');
      if (opts.test) {
        const results = await sendTestNotification(alertsEnv().notifier ?? {}, log);
        if (results.length === 0) console.log('no notification channel configured (see docs/alerts.md)');
        for (const r of results) console.log(`${r.channel}: ${r.ok ? 'sent' : `FAILED (${r.error})`}`);
        process.exitCode = results.length > 0 && results.every((r) => r.ok) ? 0 : 1;
        return;
      }
      await runUntilSignal('alerts', log, (signal) => launchAlerts(opts, log, signal));
    });
}

/** The options of `canopy alerts` as commander gives them. */
export interface AlertsOpts {
  rules?: string;
  store: boolean;
  test?: boolean;
}

/** Starts the alerts service from its command's options (also used by `canopy group`). */
export async function launchAlerts(opts: AlertsOpts, log: Logger, signal?: AbortSignal): Promise<ServiceHandle> {
  let store: Store | undefined;
  if (opts.store) {
    try {
      store = await openStore(loadBaseConfig().databaseUrl);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'store unavailable: alerts are kept in Redis only');
    }
  }
  let h: Awaited<ReturnType<typeof start>>;
  try {
    h = await start({
      ...alertsEnv(),
      configPath: opts.rules || alertsEnv().configPath,
      store,
      runtime: { log, signal },
    });
  } catch (err) {
    await store?.close().catch(() => undefined);
    throw err;
  }
  if (h.notifier.channels.length === 0) {
    log.warn(
      'no notification channel configured (ALERTS_WEBHOOK_URL, ALERTS_SMTP_URL + ALERTS_EMAIL_TO, ALERTS_NTFY_URL, ALERTS_TELEGRAM_TOKEN, ALERTS_SMS_URL)',
    );
  }
  return {
    stop: async () => {
      await h.stop();
      await store?.close();
    },
  };
}
