import { CAN_RAW } from '../../contracts/names.js';
import type { Command } from 'commander';
import { loadBaseConfig } from '../../config/env.js';
import { defaultSpoolDir, start as startScanner } from '../../services/scanner/index.js';
import { start as startWorker, WORKER_DEFAULTS } from '../../services/worker/index.js';
import { createLogger } from '../../util/log.js';
import { runUntilSignal } from '../run-service.js';
import { scannerEnv } from '../../config/scanner.js';
import { workerEnv } from '../../config/worker.js';
import { storeRetention } from '../../config/retention.js';
import { openStore, type RetentionTable } from '../../store/index.js';
import { DAY_MS } from '../../store/options.js';

function retentionDays(r: Partial<Record<RetentionTable, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).map(([t, ms]) => [t, (ms ?? 0) / DAY_MS]));
}
import { positiveIntOption } from '../numbers.js';

/** `canopy scanner` and `canopy worker`: the two halves of the CAN pipeline. */
export function registerPipeline(program: Command): void {
  program
    .command('scanner')
    .description(
      'read CAN frames from a source and append them to the Redis stream can:raw (spooling while Redis is down)',
    )
    .option('--source <source>', 'sim[:rate|saturated|flat-out], replay:FILE[@speed], socketcan:IFACE or stdin', 'sim')
    .option('--stream <key>', 'stream key', CAN_RAW)
    .option('--also-store [databaseUrl]', 'also write every frame straight to a store (default DATABASE_URL)')
    .addHelpText(
      'after',
      '\nEnvironment: REDIS_URL, USE_REDIS, CANOPY_DATA_DIR (spool in $CANOPY_DATA_DIR/spool),\n' +
        'CANOPY_STREAM_MAXLEN (default 2000000) or CANOPY_STREAM_MINID_MS (an age bound instead),\n' +
        'CANOPY_SPOOL_MAX_BYTES (default 536870912; when full, new frames are dropped and counted),\n' +
        'CANOPY_MAX_FUTURE_SKEW_MS (default 300000; frames stamped further ahead are rejected and counted).',
    )
    .action(async (opts: { source: string; stream: string; alsoStore?: string | boolean }) => {
      const base = loadBaseConfig();
      const log = createLogger('scanner', base.logLevel);
      await runUntilSignal('scanner', log, async () => {
        const h = await startScanner({
          source: opts.source,
          redisUrl: base.redisUrl,
          useRedis: base.useRedis,
          spoolDir: defaultSpoolDir(base.dataDir),
          stream: opts.stream,
          ...scannerEnv(),
          alsoStore: opts.alsoStore === true ? base.databaseUrl : opts.alsoStore || undefined,
          logger: log,
        });
        h.done.then(
          () => log.info(h.stats(), 'scanner: source finished'),
          () => process.exit(1),
        );
        return h;
      });
    });

  program
    .command('worker')
    .description(
      'consume can:raw (group can-worker): decode, calibrate, validate, derive; store, live keys, sensor:update',
    )
    .option('--name <consumer>', 'consumer name, stable across restarts (env CANOPY_WORKER_NAME)', workerEnv().name)
    .option('--batch <n>', 'entries per read and per store transaction', positiveIntOption, WORKER_DEFAULTS.batchSize)
    .option(
      '--sqlite-synchronous <mode>',
      'SQLite: FULL (each commit synced before its entries are acked) or NORMAL (env CANOPY_WORKER_SQLITE_SYNCHRONOUS)',
      workerEnv().sqliteSynchronous ?? WORKER_DEFAULTS.sqliteSynchronous,
    )
    .addHelpText(
      'after',
      '\nEnvironment: REDIS_URL, DATABASE_URL, CANOPY_DATA_DIR, CANOPY_DBC, CANOPY_NODES, CANOPY_SENSORS.',
    )
    .action(async (opts: { name?: string; batch: number; sqliteSynchronous: string }) => {
      const base = loadBaseConfig();
      const log = createLogger('worker', base.logLevel);
      const batchSize = opts.batch;
      const sqliteSynchronous = opts.sqliteSynchronous.toUpperCase();
      if (sqliteSynchronous !== 'FULL' && sqliteSynchronous !== 'NORMAL') {
        process.stderr.write(
          `canopy worker: --sqlite-synchronous must be FULL or NORMAL, got ${opts.sqliteSynchronous}\n`,
        );
        process.exit(2);
      }
      await runUntilSignal('worker', log, async () => {
        // the worker's store, with the retention it sweeps hourly (SQLite: raw rows 90 days, rollups kept)
        const retention = storeRetention(base.databaseUrl);
        const store = await openStore(base.databaseUrl, { sqliteSynchronous, retention });
        log.info({ retentionDays: retentionDays(retention) }, 'store retention');
        try {
          const h = await startWorker({
            redisUrl: base.redisUrl,
            databaseUrl: base.databaseUrl,
            store,
            consumer: opts.name,
            batchSize,
            sqliteSynchronous,
            logger: log,
          });
          // the store is this command's: closed after the worker has finished its batch
          const stopWorker = h.stop.bind(h);
          return Object.assign(h, { stop: () => stopWorker().finally(() => store.close()) });
        } catch (err) {
          await store.close();
          throw err;
        }
      });
    });
}
