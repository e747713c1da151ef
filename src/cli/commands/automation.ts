import type { Command } from 'commander';
import { runUntilSignal } from '../run-service.js';
import { driveSafeState, resolveAutomationOptions, start } from '../../services/automation/index.js';
import { checkRelayBusSelection, lastGoodDevicesFile } from '../../services/automation/relay-bus.js';
import { automationEnv } from '../../config/automation.js';
import { createLogger, type Logger } from '../../util/log.js';
import type { ServiceHandle } from '../../services/types.js';

/** The options of `canopy automation` as commander gives them. */
export interface AutomationOpts {
  devices?: string;
  i2c?: string;
  safeState?: boolean;
}

export function registerAutomation(program: Command): void {
  program
    .command('automation')
    .description('closed-loop control of heaters, humidifiers, CO2 and lights through MCP23017 relays')
    .option('--devices <file>', 'devices file (env AUTOMATION_DEVICES; default: the shipped config/devices.yaml)')
    .option(
      '--i2c <spec>',
      'relay bus: N or linux:N (/dev/i2c-N), sim, or sim:FILE (env CANOPY_I2C; required under systemd or NODE_ENV=production)',
    )
    .option(
      '--safe-state',
      'drive every output to its safe state and exit (for systemd ExecStopPost and the supervisor watchdog)',
    )
    .action(async (opts: AutomationOpts) => {
      const log = createLogger('automation');
      const what = opts.safeState ? 'canopy automation --safe-state' : 'canopy automation';
      let o: ReturnType<typeof resolveAutomationOptions>;
      try {
        checkRelayBusSelection(opts.i2c, automationEnv());
        o = resolveAutomationOptions({ devicesFile: opts.devices, i2c: opts.i2c });
      } catch (err) {
        process.stderr.write(`${what}: ${(err as Error).message}\n`);
        process.exit(2);
      }
      if (opts.safeState) {
        try {
          const r = await driveSafeState(o.devicesFile, o.i2c, {
            lastGoodFile: lastGoodDevicesFile(o.dataDir),
            i2cTimeoutMs: o.i2cTimeoutMs,
          });
          if (r.fallback) process.stderr.write(`${what}: ${r.fallback}\n`);
          for (const f of r.failed) process.stderr.write(`${what}: ${f.message}\n`);
          process.stdout.write(
            `${r.devices} device(s): every output in its safe state${r.failed.length ? ` except on ${r.failed.length} chip(s)` : ''}\n`,
          );
          process.exit(r.failed.length ? 1 : 0);
        } catch (err) {
          process.stderr.write(`${what}: ${(err as Error).message}\n`);
          process.exit(1);
        }
      }
      await runUntilSignal('automation', log, (signal) => launchAutomation(opts, log, signal));
    });
}

/** Starts the automation from its command's options (also used by `canopy group --compact`); throws on a bad selection. */
export async function launchAutomation(
  opts: AutomationOpts,
  log: Logger,
  signal?: AbortSignal,
): Promise<ServiceHandle> {
  checkRelayBusSelection(opts.i2c, automationEnv());
  const o = resolveAutomationOptions({ devicesFile: opts.devices, i2c: opts.i2c });
  const h = await start({ ...o, logger: log, runtime: { signal } });
  process.stdout.write(
    `automation: ${h.config.devices.length} device(s) under control${h.simulated ? ' (relays SIMULATED: nothing real switches)' : ''}\n`,
  );
  return h;
}
