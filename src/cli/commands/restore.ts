import type { Command } from 'commander';
import { loadBaseConfig } from '../../config/env.js';
import { restore } from '../../ops/restore.js';
import { toolsEnv } from '../../config/tools.js';

export function registerRestore(program: Command): void {
  program
    .command('restore <backup-dir>')
    .description(
      'restore a `canopy backup` directory onto a fresh install (the store named by DATABASE_URL, ' +
        'and the configuration into --config-dir), then check every table row count',
    )
    .option('--config-dir <dir>', 'where configuration files go back to (CANOPY_CONFIG_DIR)', toolsEnv().configDir)
    .option('--force', 'replace an existing store and configuration files')
    .action(async (dir: string, opts: { configDir?: string; force?: boolean }) => {
      try {
        const base = loadBaseConfig();
        const r = await restore({
          from: dir,
          databaseUrl: base.databaseUrl,
          force: opts.force === true,
          ...(opts.configDir ? { configDir: opts.configDir } : {}),
        });
        const rows = Object.values(r.tables).reduce((a, b) => a + b, 0);
        process.stdout.write(
          `restored ${r.manifest.store.kind} store from ${r.manifest.created_at}: ${Object.keys(r.tables).length} tables, ${rows} rows (all counts match)\n`,
        );
        if (r.config.length > 0) process.stdout.write(`configuration: ${r.config.join(', ')}\n`);
        for (const [file, keys] of Object.entries(r.toFillIn))
          process.stdout.write(`fill in the redacted ${keys.join(', ')} in ${file}\n`);
        const creds = r.excluded.filter((x) => x.reason === 'credential').map((x) => x.path);
        if (creds.length > 0)
          process.stdout.write(`not in the backup (recreate them: canopy acl, new tokens): ${creds.join(', ')}\n`);
      } catch (err) {
        process.stderr.write(`canopy restore: ${(err as Error).message}\n`);
        process.exit(1);
      }
    });
}
