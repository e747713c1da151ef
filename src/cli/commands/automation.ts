import type { Command } from 'commander';
import { runUntilSignal } from '../run-service.js';
import { driveSafeState, resolveAutomationOptions, start } from '../../services/automation/index.js';
import { createLogger } from '../../util/log.js';

interface Opts {
  devices?: string;
  i2c?: string;
  safeState?: boolean;
}

export function registerAutomation(program: Command): void {
  program
    .command('automation')
    .description('closed-loop control of heaters, humidifiers, CO2 and lights through MCP23017 relays')
    .option('--devices <file>', 'devices file (env AUTOMATION_DEVICES; default: the shipped config/devices.yaml)')
    .option('--i2c <spec>', 'relay bus: N or linux:N (/dev/i2c-N), sim, or sim:FILE (env CANOPY_I2C)')
    .option(
      '--safe-state',
      'drive every output to its safe state and exit (for systemd ExecStopPost and the supervisor watchdog)',
    )
    .action(async (opts: Opts) => {
      const log = createLogger('automation');
      const o = resolveAutomationOptions({ devicesFile: opts.devices, i2c: opts.i2c });
      if (opts.safeState) {
        try {
          const r = await driveSafeState(o.devicesFile, o.i2c);
          for (const f of r.failed) process.stderr.write(`canopy automation --safe-state: ${f.message}\n`);
          process.stdout.write(
            `${r.devices} device(s): every output in its safe state${r.failed.length ? ` except on ${r.failed.length} chip(s)` : ''}\n`,
          );
          process.exit(r.failed.length ? 1 : 0);
        } catch (err) {
          process.stderr.write(`canopy automation --safe-state: ${(err as Error).message}\n`);
          process.exit(1);
        }
      }
      let devices = 0;
      await runUntilSignal('automation', log, async () => {
        const h = await start({ ...o, logger: log });
        devices = h.config.devices.length;
        return h;
      });
      // printed once SIGTERM/SIGINT stop it cleanly (runUntilSignal has installed its handlers)
      process.stdout.write(`automation: ${devices} device(s) under control\n`);
    });
}
