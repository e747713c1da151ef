import { alertsEnv } from './alerts.js';
import { automationEnv } from './automation.js';

/** What `canopy analytics` takes from the environment (docs/configuration.md). */
export interface AnalyticsEnv {
  /** `ANALYTICS_VPD_BAND` — the default VPD target band, `low:high` kPa. */
  vpdBand: string;
  /** `ANALYTICS_TREND_WINDOW_MIN` — minutes of readings a trend is fitted over. */
  trendWindowMin: string;
  /** The devices file (`AUTOMATION_DEVICES`): setpoints and limits as thresholds. */
  devicesFile: string;
  /** The alert rules (`ALERTS_CONFIG`): their levels as thresholds. */
  alertRulesFile: string;
}

export function analyticsEnv(env: NodeJS.ProcessEnv = process.env): AnalyticsEnv {
  return {
    vpdBand: env.ANALYTICS_VPD_BAND || '0.8:1.2',
    trendWindowMin: env.ANALYTICS_TREND_WINDOW_MIN || '60',
    devicesFile: automationEnv(env).devicesFile,
    alertRulesFile: alertsEnv(env).configPath,
  };
}
