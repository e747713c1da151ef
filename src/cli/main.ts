#!/usr/bin/env node
import { Command } from 'commander';
import { applySecretFiles } from '../config/env.js';
import { packageVersion } from '../config/version.js';

type Register = (program: Command) => void;

/**
 * `canopy <command>`: every service and tool of Canopy. Each command lives
 * in ./commands/<name>.ts and registers itself here. Modules are imported
 * lazily: a service process loads only its own command (and so only its own
 * dependencies — the worker never loads Fastify, the api never loads MQTT),
 * which keeps each process small on a Raspberry Pi.
 */
export const COMMANDS: Record<string, () => Promise<Register>> = {
  up: async () => (await import('./commands/up.js')).registerUp,
  scanner: async () => (await import('./commands/pipeline.js')).registerPipeline,
  worker: async () => (await import('./commands/pipeline.js')).registerPipeline,
  api: async () => (await import('./commands/api.js')).registerApi,
  automation: async () => (await import('./commands/automation.js')).registerAutomation,
  alerts: async () => (await import('./commands/alerts.js')).registerAlerts,
  recorder: async () => (await import('./commands/recorder.js')).registerRecorder,
  analytics: async () => (await import('./commands/analytics.js')).registerAnalytics,
  exporter: async () => (await import('./commands/exporter.js')).registerExporter,
  group: async () => (await import('./commands/group.js')).registerGroup,
  gateway: async () => (await import('./commands/gateway.js')).registerGateway,
  subscribe: async () => (await import('./commands/subscribe.js')).registerSubscribe,
  publish: async () => (await import('./commands/publish.js')).registerPublish,
  acl: async () => (await import('./commands/acl.js')).registerAcl,
  admin: async () => (await import('./commands/admin.js')).registerAdmin,
  monitor: async () => (await import('./commands/monitor.js')).registerMonitor,
  migrate: async () => (await import('./commands/migrate.js')).registerMigrate,
  backup: async () => (await import('./commands/backup.js')).registerBackup,
  restore: async () => (await import('./commands/restore.js')).registerRestore,
  doctor: async () => (await import('./commands/doctor.js')).registerDoctor,
};

/** The program with the commands `argv` needs: its own, or all of them (help, unknown command). */
export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command('canopy')
    .description('Canopy: telemetry and control for controlled-environment agriculture, on Redis')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError()
    .enablePositionalOptions();
  const name = argv.slice(2).find((a) => !a.startsWith('-'));
  const wanted = name !== undefined && name in COMMANDS ? [name] : Object.keys(COMMANDS);
  const registers = new Set(await Promise.all(wanted.map((n) => (COMMANDS[n] as () => Promise<Register>)())));
  for (const register of registers) register(program);
  return program;
}

// secrets from systemd credentials ($CREDENTIALS_DIRECTORY) or NAME_FILE, before any command reads the environment
Promise.resolve()
  .then(() => applySecretFiles(process.env))
  .then(() => buildProgram())
  .then((program) => program.parseAsync(process.argv))
  .catch((err: unknown) => {
    process.stderr.write(`canopy: ${(err as Error).message}\n`);
    process.exit(1);
  });
