import type { Command } from 'commander';
import { loadBaseConfig } from '../../config/env.js';
import { parseSource, runUpUntilSignal } from '../../ops/up.js';
import { upServices } from '../../ops/services-list.js';

export function registerUp(program: Command): void {
  program
    .command('up')
    .description(
      'start the whole system: a managed Redis (when REDIS_URL is unset) and every configured service, ' +
        'restarting crashed ones; Ctrl+C stops all in reverse order',
    )
    .option('--source <source>', 'frame source for the scanner: sim, replay:FILE or socketcan:IFACE', 'sim')
    .option('--redis-port <port>', 'port of the managed Redis (when REDIS_URL is unset)', '6379')
    .action(async (opts: { source: string; redisPort: string }) => {
      const base = loadBaseConfig();
      const redisPort = Number(opts.redisPort);
      try {
        parseSource(opts.source);
        if (!Number.isInteger(redisPort) || redisPort < 1 || redisPort > 65535)
          throw new Error(`--redis-port must be a port number, got "${opts.redisPort}"`);
        await runUpUntilSignal({
          dataDir: base.dataDir,
          services: upServices({ source: opts.source }),
          cliPath: process.argv[1] ?? '',
          redisPort,
          ...(base.redisUrl ? { redisUrl: base.redisUrl } : {}),
        });
      } catch (err) {
        process.stderr.write(`canopy up: ${(err as Error).message}\n`);
        process.exit(1);
      }
    });
}
