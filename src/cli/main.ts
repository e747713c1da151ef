#!/usr/bin/env node
import { Command } from 'commander';
import { packageVersion } from './version.js';
import { registerUp } from './commands/up.js';
import { registerBackup } from './commands/backup.js';
import { registerRestore } from './commands/restore.js';
import { registerDoctor } from './commands/doctor.js';
import { registerApi } from './commands/api.js';
import { registerPipeline } from './commands/pipeline.js';
import { registerAcl } from './commands/acl.js';
import { registerGateway } from './commands/gateway.js';
import { registerSubscribe } from './commands/subscribe.js';
import { registerPublish } from './commands/publish.js';
import { registerAutomation } from './commands/automation.js';
import { registerAdmin } from './commands/admin.js';
import { registerMigrate } from './commands/migrate.js';
import { registerAlerts } from './commands/alerts.js';
import { registerRecorder } from './commands/recorder.js';
import { registerAnalytics } from './commands/analytics.js';
import { registerExporter } from './commands/exporter.js';
import { registerMonitor } from './commands/monitor.js';

/**
 * `canopy <command>`: every service and tool of Canopy. Each command lives
 * in ./commands/<name>.ts and registers itself here.
 */
export function buildProgram(): Command {
  const program = new Command('canopy')
    .description('Canopy: telemetry and control for controlled-environment agriculture, on Redis')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError()
    .enablePositionalOptions();
  registerUp(program);
  registerBackup(program);
  registerRestore(program);
  registerDoctor(program);
  registerPipeline(program);
  registerApi(program);
  registerAcl(program);
  registerGateway(program);
  registerSubscribe(program);
  registerPublish(program);
  registerAutomation(program);
  registerAdmin(program);
  registerMigrate(program);
  registerAlerts(program);
  registerRecorder(program);
  registerAnalytics(program);
  registerExporter(program);
  registerMonitor(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`canopy: ${(err as Error).message}\n`);
    process.exit(1);
  });
