import type { Command } from 'commander';
import { start } from '../../services/exporter/index.js';
import { exporterEnv } from '../../config/exporter.js';
import { createLogger } from '../../util/log.js';
import { runUntilSignal } from '../run-service.js';

export function registerExporter(program: Command): void {
  program
    .command('exporter')
    .description(
      'MQTT bridge with Home Assistant discovery: every sensor and device appears in Home Assistant ' +
        '(broker from MQTT_URL, credentials MQTT_USERNAME/MQTT_PASSWORD)',
    )
    .option('--discovery-prefix <prefix>', 'Home Assistant discovery prefix', 'homeassistant')
    .option('--base-topic <topic>', 'prefix of the state and availability topics', 'canopy')
    .action(async (opts: { discoveryPrefix: string; baseTopic: string }) => {
      const log = createLogger('exporter');
      await runUntilSignal('exporter', log, () =>
        start({
          ...exporterEnv(),
          discoveryPrefix: opts.discoveryPrefix,
          baseTopic: opts.baseTopic,
          runtime: { log },
        }),
      );
    });
}
