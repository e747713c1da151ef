import type { Command } from 'commander';
import { loadBaseConfig } from '../../config/env.js';
import { formatReport, runDoctor } from '../../ops/doctor/index.js';
import { heartbeatServices, upServices } from '../../ops/services-list.js';
import { automationEnv } from '../../config/automation.js';
import { toolsEnv } from '../../config/tools.js';
import { storeRetention } from '../../config/retention.js';
import { StoreError } from '../../store/index.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'check and explain: Redis (reachable, version, persistence, ACL user), the store (reachable, migrated, ' +
        'TimescaleDB; SQLite: retention and growth per day), the CAN interface and its error counters, the relay bus and every MCP23017 devices.yaml uses, the clock, disk space and every service heartbeat; ' +
        'exits non-zero when something is wrong',
    )
    .option('--json', 'print the checks as JSON')
    .option(
      '--expect <services>',
      'comma-separated services whose heartbeat must be live ("none" for no heartbeat check; default: the services canopy up starts)',
    )
    .option(
      '--can <iface>',
      'CAN interface that must be up (default: CAN_INTERFACE, else can0, then only a warning when absent)',
    )
    .action(async (opts: { json?: boolean; expect?: string; can?: string }) => {
      const base = loadBaseConfig();
      const expectServices =
        opts.expect === undefined
          ? heartbeatServices(upServices())
          : opts.expect === 'none'
            ? []
            : opts.expect
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean);
      const iface = opts.can ?? toolsEnv().canInterface;
      const report = await runDoctor({
        redisUrl: base.redisUrl ?? 'redis://127.0.0.1:6379',
        databaseUrl: base.databaseUrl,
        dataDir: base.dataDir,
        expectServices,
        canInterface: iface ?? 'can0',
        canRequired: iface !== undefined,
        rawRetentionMs: rawRetentionMs(base.databaseUrl),
        relays: { i2c: automationEnv().i2cGiven, devicesFile: automationEnv().devicesFile },
      });
      process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
      process.exitCode = report.ok ? 0 : 1;
    });
}

/** The worker's raw retention for the report; an unparseable DATABASE_URL is the store check's to report. */
function rawRetentionMs(databaseUrl: string): number {
  try {
    return storeRetention(databaseUrl).sensor_readings ?? 0;
  } catch (err) {
    if (err instanceof StoreError) return 0;
    throw err;
  }
}
