import { CAN_RAW } from '../../contracts/names.js';
import type { Command } from 'commander';
import { loadBaseConfig } from '../../config/env.js';
import { defaultSpoolDir, start as startScanner } from '../../services/scanner/index.js';
import { start as startWorker, WORKER_DEFAULTS, workerConsumerName } from '../../services/worker/index.js';
import { createLogger, type Logger } from '../../util/log.js';
import type { ServiceHandle } from '../../services/types.js';
import { runUntilSignal } from '../run-service.js';
import { scannerEnv } from '../../config/scanner.js';
import { checkWorkerInstance, workerEnv } from '../../config/worker.js';
import { storeRetention } from '../../config/retention.js';
import type { RetentionTable } from '../../store/index.js';
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
    .action(async (opts: ScannerOpts) => {
      const log = createLogger('scanner', loadBaseConfig().logLevel);
      await runUntilSignal('scanner', log, () => launchScanner(opts, log));
    });

  program
    .command('worker')
    .description(
      'consume can:raw (group can-worker): decode, calibrate, validate, derive; store, live keys, sensor:update',
    )
    .option(
      '--instance <id>',
      'instance on this host (0, 1, …): consumer and heartbeat worker-<host>-<id> (env CANOPY_WORKER_INSTANCE, default 0)',
    )
    .option('--name <consumer>', 'consumer name instead, stable across restarts (env CANOPY_WORKER_NAME)')
    .option('--batch <n>', 'entries per read and per store transaction', positiveIntOption, WORKER_DEFAULTS.batchSize)
    .option(
      '--sqlite-synchronous <mode>',
      'SQLite: FULL (each commit synced before its entries are acked) or NORMAL (env CANOPY_WORKER_SQLITE_SYNCHRONOUS)',
    )
    .addHelpText(
      'after',
      '\nEnvironment: REDIS_URL, DATABASE_URL, CANOPY_DATA_DIR, CANOPY_DBC, CANOPY_NODES, CANOPY_SENSORS.\n' +
        'Several workers (on one host or several) share the group can-worker: give each its own instance\n' +
        '(--instance 0, 1, … or canopy-worker@N.service); a worker gone for good has its pending entries\n' +
        'taken over by the others once its heartbeat expires (CANOPY_WORKER_HANDOFF_S, default 30 s).',
    )
    .action(async (opts: WorkerOpts) => {
      const log = createLogger('worker', loadBaseConfig().logLevel);
      try {
        workerSettings(opts); // a bad option or variable: exit 2 before anything starts
      } catch (err) {
        process.stderr.write(`canopy worker: ${(err as Error).message}\n`);
        process.exit(2);
      }
      await runUntilSignal('worker', log, (signal) => launchWorker(opts, log, signal));
    });
}

/** The options of `canopy scanner` as commander gives them. */
export interface ScannerOpts {
  source: string;
  stream: string;
  alsoStore?: string | boolean;
}

/** Starts the scanner from its command's options (also used by `canopy group --compact`). */
export async function launchScanner(opts: ScannerOpts, log: Logger): Promise<ServiceHandle> {
  const base = loadBaseConfig();
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
}

/** The options of `canopy worker` as commander gives them. */
export interface WorkerOpts {
  name?: string;
  instance?: string;
  batch: number;
  sqliteSynchronous?: string;
}

interface WorkerSettings {
  consumer: string;
  batchSize: number;
  handoffSeconds: number | undefined;
  sqliteSynchronous: 'FULL' | 'NORMAL';
}

/** The worker's settings from its options and environment; throws saying what is wrong. */
function workerSettings(opts: WorkerOpts): WorkerSettings {
  const env = workerEnv();
  const given = opts.sqliteSynchronous ?? env.sqliteSynchronous ?? WORKER_DEFAULTS.sqliteSynchronous;
  const consumer =
    opts.name ??
    (opts.instance !== undefined
      ? workerConsumerName(checkWorkerInstance(opts.instance, '--instance'))
      : (env.name ?? workerConsumerName(env.instance ?? '0')));
  const sqliteSynchronous = given.toUpperCase();
  if (sqliteSynchronous !== 'FULL' && sqliteSynchronous !== 'NORMAL')
    throw new Error(`--sqlite-synchronous must be FULL or NORMAL, got ${given}`);
  return { consumer, batchSize: opts.batch, handoffSeconds: env.handoffSeconds, sqliteSynchronous };
}

/** Starts the worker from its command's options (also used by `canopy group --compact`). */
export async function launchWorker(opts: WorkerOpts, log: Logger, signal?: AbortSignal): Promise<ServiceHandle> {
  const { consumer, batchSize, handoffSeconds, sqliteSynchronous } = workerSettings(opts);
  const base = loadBaseConfig();
  // the worker's store, with the retention it sweeps hourly (SQLite: raw rows 90 days, rollups kept)
  const retention = storeRetention(base.databaseUrl);
  log.info({ retentionDays: retentionDays(retention) }, 'store retention');
  // the worker opens (and at stop closes) its store, with every setting of its own: synchronous, batch patience, retention
  return startWorker({
    redisUrl: base.redisUrl,
    databaseUrl: base.databaseUrl,
    retention,
    consumer,
    handoffSeconds,
    batchSize,
    sqliteSynchronous,
    logger: log,
    signal,
  });
}
