import type { Command } from 'commander';
import { start } from '../../services/exporter/index.js';
import { exporterEnv } from '../../config/exporter.js';
import { createLogger, type Logger } from '../../util/log.js';
import type { ServiceHandle } from '../../services/types.js';
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
    .action(async (opts: ExporterOpts) => {
      const log = createLogger('exporter');
      await runUntilSignal('exporter', log, (signal) => launchExporter(opts, log, signal));
    });
}

/** The options of `canopy exporter` as commander gives them. */
export interface ExporterOpts {
  discoveryPrefix: string;
  baseTopic: string;
}

/** Starts the exporter from its command's options (also used by `canopy group`). */
export function launchExporter(opts: ExporterOpts, log: Logger, signal?: AbortSignal): Promise<ServiceHandle> {
  return start({
    ...exporterEnv(),
    discoveryPrefix: opts.discoveryPrefix,
    baseTopic: opts.baseTopic,
    runtime: { log, signal },
  });
}
