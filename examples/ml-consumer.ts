/**
 * An example ML consumer on Canopy's per-user channels (docs/contracts.md):
 * subscribes to `user:{id}:raw`, buffers each user's samples, and publishes
 * a linear forecast per channel on `user:{id}:predictions` as MessagePack
 * `{type:"prediction", prediction_type:"forecast", data, confidence, source, timestamp}`.
 *
 *   npx tsx examples/ml-consumer.ts --user alice [--user bob] [--window 100] [--step 20] [--horizon 10]
 *   node dist/examples/ml-consumer.js --user alice        (after npm run build)
 *
 * Redis from `REDIS_URL` (with the consumer's ACL user: `canopy acl --consumer ml=alice,bob`).
 * Malformed raw messages are counted and skipped; the consumer keeps running
 * through Redis restarts (the connection reconnects and resubscribes).
 * Replace {@link Forecaster} with your model.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { ConnectionOptions } from '../src/bus/options.js';
import { checkUserId, type RawMessage } from '../src/contracts/user-channels.js';
import { UserChannels } from '../src/client/index.js';
import { createLogger, type Logger } from '../src/util/log.js';
import { ExampleConfigError, Forecaster, forecastOptions, type ForecastOptions } from './forecast.js';
import { redisConnectionFromEnv } from '../src/config/redis.js';

/** Options of the example consumer. */
export interface MlConsumerOptions extends ForecastOptions {
  /** Users whose raw channel is read. Required, at least one. */
  users: string[];
  /** @defaultValue `{}` — the local default; the program passes `REDIS_URL`/`REDIS_DB` from the environment */
  redis: Partial<ConnectionOptions>;
  /** @defaultValue `canopy-example-ml-ts` — the `source` of every prediction. */
  source: string;
  /** @defaultValue `createLogger('ml-consumer')` (JSON lines on stderr, `LOG_LEVEL`) */
  log: Logger;
}

export interface MlConsumerStats {
  /** Valid raw messages taken in. */
  received: number;
  /** Raw messages refused (undecodable or not the raw shape); nothing else happened to them. */
  malformed: number;
  /** Predictions published. */
  predictions: number;
  /** Predictions that could not be published (Redis down); the next one is tried as usual. */
  publishErrors: number;
}

export interface MlConsumer {
  readonly options: MlConsumerOptions;
  readonly stats: MlConsumerStats;
  stop(): Promise<void>;
}

/** Connects, subscribes to each user's raw channel and publishes forecasts until {@link MlConsumer.stop}. */
export async function startMlConsumer(
  opts: Partial<MlConsumerOptions> & Pick<MlConsumerOptions, 'users'>,
): Promise<MlConsumer> {
  const o: MlConsumerOptions = {
    redis: {},
    source: 'canopy-example-ml-ts',
    ...opts,
    ...forecastOptions(opts),
    log: opts.log ?? createLogger('ml-consumer'),
  };
  if (o.users.length === 0) throw new ExampleConfigError('at least one user is needed (--user alice)');
  for (const u of o.users) checkUserId(u);
  const log = o.log;
  const model = new Forecaster(o);
  const stats: MlConsumerStats = { received: 0, malformed: 0, predictions: 0, publishErrors: 0 };
  const ch = await UserChannels.connect({
    redis: { clientName: 'canopy-example-ml', ...o.redis },
    logger: log,
    onMalformed: ({ channel, error }) => {
      stats.malformed++;
      log.warn({ channel, error }, 'malformed raw message skipped');
    },
  });

  const onRaw = async (msg: RawMessage, user: string) => {
    stats.received++;
    const f = model.add(user, msg);
    if (!f) return;
    try {
      await ch.publishPrediction(user, { ...f, source: o.source });
      stats.predictions++;
      log.debug({ user, confidence: f.confidence }, 'prediction published');
    } catch (err) {
      stats.publishErrors++;
      log.warn({ user, err: (err as Error).message }, 'prediction not published');
    }
  };
  try {
    for (const user of o.users) {
      await ch.subscribe(user, 'raw', (m) => onRaw(m, user));
      log.info({ channel: `user:${user}:raw` }, `subscribed to user:${user}:raw`);
    }
  } catch (err) {
    await ch.close();
    throw err;
  }
  return {
    options: o,
    stats,
    stop: () => ch.close(),
  };
}

const USAGE = `usage: ml-consumer --user ID [--user ID …] [--window N] [--step N] [--horizon N] [--source NAME]`;

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      user: { type: 'string', multiple: true },
      window: { type: 'string' },
      step: { type: 'string' },
      horizon: { type: 'string' },
      source: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.user?.length) {
    (values.help ? process.stdout : process.stderr).write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const consumer = await startMlConsumer({
    users: values.user,
    redis: redisConnectionFromEnv(),
    ...(values.window !== undefined ? { window: num(values.window) } : {}),
    ...(values.step !== undefined ? { step: num(values.step) } : {}),
    ...(values.horizon !== undefined ? { horizon: num(values.horizon) } : {}),
    ...(values.source !== undefined ? { source: values.source } : {}),
  });
  const stop = async () => {
    await consumer.stop();
    // the counters, as one JSON line on stdout (for scripts and tests)
    process.stdout.write(`${JSON.stringify(consumer.stats)}\n`);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`ml-consumer: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
