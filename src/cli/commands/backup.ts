import type { Command } from 'commander';
import { loadBaseConfig } from '../../config/env.js';
import { backup } from '../../ops/backup.js';
import { packageVersion } from '../../config/version.js';
import { toolsEnv } from '../../config/tools.js';
import { countOption } from '../numbers.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description(
      'consistent online backup of the store (SQLite backup API or pg_dump) and the configuration ' +
        'into one timestamped directory; DATABASE_URL says which store',
    )
    .option('--out <dir>', 'where backups go (CANOPY_BACKUP_DIR)', toolsEnv().backupDir)
    .option('--keep <n>', 'keep only the newest N backups in --out (0 keeps all)', countOption, 0)
    .option('--config-dir <dir>', 'configuration directory to include (CANOPY_CONFIG_DIR)', toolsEnv().configDir)
    .option(
      '--env-file <file>',
      'an environment file to include (repeatable; default: *.env of --config-dir)',
      collect,
      [],
    )
    .option('--include-secrets', 'keep secret values in env files (otherwise they are redacted)')
    .option('--json', 'print the manifest as JSON')
    .action(
      async (opts: {
        out?: string;
        keep: number;
        configDir?: string;
        envFile: string[];
        includeSecrets?: boolean;
        json?: boolean;
      }) => {
        try {
          const base = loadBaseConfig();
          const r = await backup({
            databaseUrl: base.databaseUrl,
            outDir: opts.out ?? `${base.dataDir}/backups`,
            keep: opts.keep,
            includeSecrets: opts.includeSecrets === true,
            version: packageVersion(),
            ...(opts.configDir ? { configDir: opts.configDir } : {}),
            ...(opts.envFile.length > 0 ? { envFiles: opts.envFile } : {}),
          });
          if (opts.json) {
            process.stdout.write(
              JSON.stringify({ dir: r.dir, removed: r.removed, manifest: r.manifest }, null, 2) + '\n',
            );
            return;
          }
          const rows = Object.values(r.manifest.store.tables).reduce((a, b) => a + b, 0);
          process.stdout.write(
            `backup written to ${r.dir}\n` +
              `  store: ${r.manifest.store.kind}, ${Object.keys(r.manifest.store.tables).length} tables, ${rows} rows, ${r.manifest.store.bytes} bytes\n` +
              `  config: ${r.manifest.config.length} files; env: ${r.manifest.env.length} files` +
              (r.manifest.secrets_included ? ' (WITH secrets)' : ' (secrets redacted)') +
              '\n',
          );
          for (const x of r.manifest.excluded) process.stdout.write(`  left out ${x.path}: ${x.reason}\n`);
          for (const e of r.manifest.env.filter((x) => x.skipped))
            process.stdout.write(`  skipped ${e.file}: ${e.skipped}\n`);
          for (const old of r.removed) process.stdout.write(`  rotated out ${old}\n`);
        } catch (err) {
          process.stderr.write(`canopy backup: ${(err as Error).message}\n`);
          process.exit(1);
        }
      },
    );
}
