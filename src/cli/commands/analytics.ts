import type { Command } from 'commander';
import { parseBand, start } from '../../services/analytics/index.js';
import { createLogger } from '../../util/log.js';
import { runUntilSignal } from '../run-service.js';

export function registerAnalytics(program: Command): void {
  program
    .command('analytics')
    .description(
      'rolling 1-minute and 1-hour statistics per sensor, daily min/max, share of time each room’s VPD is in its ' +
        'target band; published on analytics:update, kept in analytics:latest and analytics:daily:<day>',
    )
    .option(
      '--vpd-band <low:high>',
      'default VPD target band, kPa (env ANALYTICS_VPD_BAND)',
      process.env.ANALYTICS_VPD_BAND || '0.8:1.2',
    )
    .option('--room-band <room=low:high...>', 'VPD target band of one room, e.g. "Flower Room=1.0:1.4"')
    .option('--interval <ms>', 'publish interval', '5000')
    .action(async (opts: { vpdBand: string; roomBand?: string[]; interval: string }) => {
      const log = createLogger('analytics');
      const vpdBands: Record<string, [number, number]> = { '*': parseBand(opts.vpdBand) };
      for (const rb of opts.roomBand ?? []) {
        const eq = rb.lastIndexOf('=');
        if (eq <= 0) throw new Error(`--room-band wants ROOM=LOW:HIGH, got "${rb}"`);
        vpdBands[rb.slice(0, eq)] = parseBand(rb.slice(eq + 1));
      }
      await runUntilSignal('analytics', log, () =>
        start({ vpdBands, publishMs: Number(opts.interval), runtime: { log } }),
      );
    });
}
