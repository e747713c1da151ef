import os from 'node:os';
import { ConfigError } from '../errors.js';
import type { BusLogger } from '../log.js';
import { silentLogger } from '../log.js';
import type { StreamEntry } from './entries.js';

/** What a batch handler may return: entries it names are dead-lettered at once (not retried). */
export type BatchResult = void | {
  deadLetter?: { id: string; reason: string }[];
  /**
   * Entries of this batch the handler keeps for later (e.g. its store is
   * down): not acked, not counted as failures, not delivered again, and
   * kept from other consumers' claims (their idle time is reset
   * periodically) until the handler names them in `ack` or calls
   * `StreamConsumer.ack`.
   */
  hold?: string[];
  /** Entries held earlier that are now done: acked with this batch. */
  ack?: string[];
};

/**
 * Handles one batch. Resolving acks every entry (except those named in
 * `deadLetter`); throwing leaves the batch pending, to be delivered again
 * (and dead-lettered after `maxDeliveries`); throwing a
 * `RetryableError` retries the same batch in memory with backoff.
 */
export type BatchHandler = (entries: StreamEntry[]) => Promise<BatchResult>;

/** How a `StreamConsumer` reads, claims and gives up. */
export interface ConsumerOptions {
  /** The stream key. */
  stream: string;
  /** The consumer group (created with MKSTREAM when missing). */
  group: string;
  /** @defaultValue `<hostname>-<pid>-<random>` — unique per process; a restart under the same name re-reads its pending entries. */
  consumer: string;
  /** @defaultValue 100 — COUNT of each XREADGROUP. */
  batchSize: number;
  /** @defaultValue 2000 — BLOCK of each XREADGROUP, ms. */
  blockMs: number;
  /** @defaultValue 60000 — entries pending longer than this in any consumer are claimed (XAUTOCLAIM). */
  claimIdleMs: number;
  /** @defaultValue 15000 — how often one consumer of the group (elected by `SET NX PX`) runs the claim sweep. */
  claimIntervalMs: number;
  /** @defaultValue 5 — deliveries after which a failing entry goes to the dead-letter stream. */
  maxDeliveries: number;
  /** @defaultValue `<stream>:dead` */
  deadLetterStream: string;
  /** @defaultValue 100000 — approximate MAXLEN of the dead-letter stream. */
  deadLetterMaxLen: number;
  /** @defaultValue `0` — where a new group starts (`0`: everything already in the stream; `$`: only new entries). */
  startId: string;
  /** @defaultValue 100 — first delay after a failed loop step or handler; doubles, with jitter. */
  backoffBaseMs: number;
  /** @defaultValue 5000 — ceiling of that delay. */
  backoffMaxMs: number;
  /** @defaultValue silent */
  logger: BusLogger;
}

export const CONSUMER_DEFAULTS: Omit<ConsumerOptions, 'stream' | 'group' | 'consumer' | 'deadLetterStream'> = {
  batchSize: 100,
  blockMs: 2000,
  claimIdleMs: 60_000,
  claimIntervalMs: 15_000,
  maxDeliveries: 5,
  deadLetterMaxLen: 100_000,
  startId: '0',
  backoffBaseMs: 100,
  backoffMaxMs: 5000,
  logger: silentLogger,
};

export type ConsumerRequired = Pick<ConsumerOptions, 'stream' | 'group'>;

/** Spreads the defaults, derives the rest and validates everything at once. */
export function resolveConsumerOptions(opts: ConsumerRequired & Partial<ConsumerOptions>): ConsumerOptions {
  const o: ConsumerOptions = {
    ...CONSUMER_DEFAULTS,
    consumer: `${os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`,
    deadLetterStream: `${opts.stream}:dead`,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
  } as ConsumerOptions;
  if (!o.stream || !o.group || !o.consumer) throw new ConfigError('stream, group and consumer must not be empty');
  for (const k of ['batchSize', 'maxDeliveries'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new ConfigError(`${k} must be an integer >= 1, got ${o[k]}`);
  }
  for (const k of ['blockMs', 'claimIdleMs', 'claimIntervalMs', 'backoffBaseMs', 'backoffMaxMs'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new ConfigError(`${k} must be an integer >= 1 ms, got ${o[k]}`);
  }
  if (o.deadLetterStream === o.stream) throw new ConfigError('deadLetterStream must differ from stream');
  return o;
}

export interface ConsumerStats {
  /** Entries whose handler call succeeded. */
  processed: number;
  acked: number;
  deadLettered: number;
  /** Handler calls that threw. */
  handlerErrors: number;
  /** Entries taken over from other consumers (XAUTOCLAIM, claimFrom). */
  claimed: number;
  /** Loop steps that failed (Redis errors); each was logged and backed off. */
  loopErrors: number;
  batches: number;
}
