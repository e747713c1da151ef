import os from 'node:os';
import type { Command } from 'commander';
import { loadBaseConfig } from '../../config/env.js';
import { parseSource, runUpUntilSignal } from '../../ops/up.js';
import { upMode, upServices } from '../../ops/services-list.js';
import { flag } from '../../config/read.js';
import { workerEnv } from '../../config/worker.js';
import { DEFAULT_REDIS_URL } from '../../bus/options.js';
import { expectedErrorLine } from '../expected.js';
import { parseNumber, portOption, positiveIntOption } from '../numbers.js';

export function registerUp(program: Command): void {
  program
    .command('up')
    .description(
      'start the whole system: a managed Redis (when REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES are unset) ' +
        'and every configured service, ' +
        'restarting crashed ones; Ctrl+C stops all in reverse order',
    )
    .option(
      '--source <source>',
      'frame source for the scanner: sim[:frames per second], replay:FILE[@speed] or socketcan:IFACE',
      'sim',
    )
    .option(
      '--redis-port <port>',
      'port of the managed Redis (when REDIS_URL is unset) [default: 6379, or a free one when taken]',
      portOption,
    )
    .option(
      '--workers <n>',
      'worker processes sharing the can:raw group (instances 0 … n-1) [env CANOPY_WORKERS, default 1]',
      positiveIntOption,
    )
    .option(
      '--compact',
      'every service in one process, for a 1 GB Raspberry Pi (measured: some 230 MB in all instead of some 700 MB; a crash of one restarts them all) [env CANOPY_UP_COMPACT=1; the default on a machine with 4 GiB of memory or less]',
    )
    .option('--separate', 'one process per service, whatever the machine [env CANOPY_UP_COMPACT=0]')
    .addHelpText(
      'after',
      '\nThe dashboard listens on CANOPY_API_PORT (default 8000): CANOPY_API_PORT=8080 canopy up.\n' +
        'First run: an operator token is created in $CANOPY_DATA_DIR/operator.token (mode 0600) unless\n' +
        'CANOPY_API_TOKENS or CANOPY_API_TOKENS_FILE is set.',
    )
    .action(
      async (opts: { source: string; redisPort?: number; workers?: number; compact?: boolean; separate?: boolean }) => {
        try {
          const base = loadBaseConfig();
          const workers = opts.workers ?? workerEnv().workers;
          if (process.env.CANOPY_API_PORT) checkEnvPort('CANOPY_API_PORT', process.env.CANOPY_API_PORT);
          parseSource(opts.source);
          const mode = upMode({
            ...(opts.compact ? { compact: true } : {}),
            ...(opts.separate ? { separate: true } : {}),
            ...(process.env.CANOPY_UP_COMPACT ? { env: flag(process.env, 'CANOPY_UP_COMPACT', false) } : {}),
            totalMemBytes: os.totalmem(),
            workers,
          });
          process.stdout.write(
            `${mode.compact ? 'compact: every service in one process' : 'one process per service'} (${mode.why})\n`,
          );
          await runUpUntilSignal({
            dataDir: base.dataDir,
            services: upServices({
              source: opts.source,
              workers,
              group: flag(process.env, 'CANOPY_UP_GROUP', true),
              compact: mode.compact,
            }),
            cliPath: process.argv[1] ?? '',
            ...(opts.redisPort !== undefined ? { redisPort: opts.redisPort, redisPortFixed: true } : {}),
            // Sentinels or a Redis Cluster are a Redis the operator runs: no managed one then
            ...(base.redisUrl || externalTopology(process.env) ? { redisUrl: base.redisUrl ?? DEFAULT_REDIS_URL } : {}),
            showNewToken: process.stdout.isTTY === true,
            // the children's logs are read on this terminal: readable lines unless LOG_FORMAT says otherwise
            env: process.stdout.isTTY && !process.env.LOG_FORMAT ? { LOG_FORMAT: 'pretty' } : {},
          });
        } catch (err) {
          process.stderr.write(`${expectedErrorLine('up', err) ?? `canopy up: ${(err as Error).message}`}\n`);
          process.exit(1);
        }
      },
    );
}

function checkEnvPort(name: string, value: string): void {
  try {
    parseNumber(value, { integer: true, min: 1, max: 65535 });
  } catch (err) {
    throw new Error(`${name}=${value}: ${(err as Error).message} Set a port from 1 to 65535.`, { cause: err });
  }
}

/** Whether the environment names Sentinels or a Redis Cluster (a Redis `canopy up` must not start itself). */
export function externalTopology(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.REDIS_SENTINELS || env.REDIS_CLUSTER_NODES);
}
