import type { Command } from 'commander';
import { parseBand, parseLimit, start, type ThresholdSpec } from '../../services/analytics/index.js';
import { createLogger, type Logger } from '../../util/log.js';
import type { ServiceHandle } from '../../services/types.js';
import { runUntilSignal } from '../run-service.js';
import { analyticsEnv } from '../../config/analytics.js';
import { numberOption } from '../numbers.js';

/** The options of `canopy analytics` as commander gives them. */
export interface AnalyticsOpts {
  vpdBand: string;
  roomBand?: string[];
  interval: string;
  trendWindow: string;
  limit?: string[];
  devices: string | false;
  alertRules: string | false;
}

export function registerAnalytics(program: Command): void {
  program
    .command('analytics')
    .description(
      'rolling 1-minute and 1-hour statistics per sensor, daily min/max, trend (slope per hour) and time to each ' +
        'threshold (devices.yaml setpoints and limits, alert rules, --limit), share of time each room’s VPD is in its ' +
        'target band; published on analytics:update, kept in analytics:latest and analytics:daily:<day>',
    )
    .option('--vpd-band <low:high>', 'default VPD target band, kPa (env ANALYTICS_VPD_BAND)', analyticsEnv().vpdBand)
    .option('--room-band <room=low:high...>', 'VPD target band of one room, e.g. "Flower Room=1.0:1.4"')
    .option('--interval <ms>', 'publish interval', numberOption({ integer: true, min: 100 }), 5000)
    .option(
      '--trend-window <minutes>',
      'readings the trend is fitted over (env ANALYTICS_TREND_WINDOW_MIN)',
      numberOption({ min: 1 }),
      Number(analyticsEnv().trendWindowMin),
    )
    .option('--limit <sensor=low:high...>', 'a configured limit, e.g. "co2_*=400:1500" or "water_temp=:24"')
    .option(
      '--devices <file>',
      'setpoints and hard limits as thresholds (env AUTOMATION_DEVICES)',
      analyticsEnv().devicesFile,
    )
    .option('--no-devices', 'no thresholds from the devices file')
    .option(
      '--alert-rules <file>',
      'alert rule levels as thresholds (env ALERTS_CONFIG)',
      analyticsEnv().alertRulesFile,
    )
    .option('--no-alert-rules', 'no thresholds from the alert rules')
    .action(async (opts: AnalyticsOpts) => {
      const log = createLogger('analytics');
      await runUntilSignal('analytics', log, (signal) => launchAnalytics(opts, log, signal));
    });
}

/** Starts the analytics from its command's options (also used by `canopy group`). */
export function launchAnalytics(opts: AnalyticsOpts, log: Logger, signal?: AbortSignal): Promise<ServiceHandle> {
  const vpdBands: Record<string, [number, number]> = { '*': parseBand(opts.vpdBand) };
  for (const rb of opts.roomBand ?? []) {
    const eq = rb.lastIndexOf('=');
    if (eq <= 0) throw new Error(`--room-band wants ROOM=LOW:HIGH, got "${rb}"`);
    vpdBands[rb.slice(0, eq)] = parseBand(rb.slice(eq + 1));
  }
  const limits: ThresholdSpec[] = (opts.limit ?? []).flatMap(parseLimit);
  return start({
    vpdBands,
    limits,
    publishMs: Number(opts.interval),
    trendWindowMs: Number(opts.trendWindow) * 60_000,
    devicesFile: opts.devices || null,
    alertRulesFile: opts.alertRules || null,
    runtime: { log, signal },
  });
}
