import { SCANNER_BOUNDS_DEFAULTS } from '../../config/scanner.js';
import path from 'node:path';
import { ConfigError } from '../../bus/errors.js';
import { SpooledStreamWriter } from '../../bus/spooled-stream.js';
import type { TrimPolicy } from '../../bus/streams/producer.js';
import type { CanFrame } from '../../can/frame.js';
import { frameToStreamFields } from '../../can/frame.js';
import type { FrameSource } from '../../can/sources/types.js';
import { createFrameSource, parseSourceSpec } from '../../can/sources/index.js';
import type { Logger } from '../../util/log.js';
import { startServiceRuntime, type ServiceRuntime } from '../common/runtime.js';
import type { ServiceHandle } from '../types.js';
import { DirectStoreWriter } from './direct-store.js';

/** What `canopy scanner` needs. */
export interface ScannerConfig {
  /** @defaultValue `sim` — `sim[:rate]`, `replay:FILE[@speed]`, `socketcan:IFACE`, `stdin`, or a FrameSource. */
  source: string | FrameSource;
  /** @defaultValue `process.env.REDIS_URL` or `redis://127.0.0.1:6379` */
  redisUrl?: string;
  /** @defaultValue true — `USE_REDIS=false` spools every frame on purpose. */
  useRedis: boolean;
  /** Spool directory. @defaultValue `$CANOPY_DATA_DIR/spool` */
  spoolDir: string;
  /** @defaultValue `can:raw` */
  stream: string;
  /**
   * Bound of the stream, applied with `~` on every XADD; far above normal lag.
   * @defaultValue `{ maxLen: SCANNER_BOUNDS_DEFAULTS.streamMaxLen }` (`CANOPY_STREAM_MAXLEN`, or `CANOPY_STREAM_MINID_MS` for an age bound)
   */
  trim: TrimPolicy;
  /** Also write every frame straight to this store (`--also-store`): the seeds' parallel operation. */
  alsoStore?: string;
  /**
   * Size cap of the spool file (bytes); when full, new batches are dropped and counted (see SpooledStreamWriter).
   * @defaultValue 536870912 (512 MiB; `CANOPY_SPOOL_MAX_BYTES`)
   */
  spoolMaxBytes?: number;
  /**
   * A frame stamped more than this far in the future (a source with a wrong clock) is rejected and counted
   * (`futureRejected`), never written: it would sort after every later frame and defeat age-based trimming.
   * @defaultValue 300000 (5 minutes; `CANOPY_MAX_FUTURE_SKEW_MS`)
   */
  maxFutureSkewMs?: number;
  /**
   * Replicas that must confirm (`WAIT`) a batch before the spool lets go of it (see SpooledStreamWriter).
   * @defaultValue `auto` — 1 when the primary has replicas, else 0 (`CANOPY_SCANNER_WAIT_REPLICAS`)
   */
  waitReplicas?: number | 'auto';
  /** @defaultValue 1000 (`CANOPY_SCANNER_WAIT_TIMEOUT_MS`) — how long one WAIT may take, ms. */
  waitTimeoutMs?: number;
  /** @defaultValue `Date.now` — the clock future timestamps are judged by. */
  now?: () => number;
  logger: Logger;
}

export { SCANNER_BOUNDS_DEFAULTS };

export interface ScannerHandle extends ServiceHandle {
  readonly writer: SpooledStreamWriter;
  /** Resolves when the source ended (replay finished) and everything was written. */
  readonly done: Promise<void>;
  stats(): {
    frames: number;
    batches: number;
    spooled: number;
    direct: number;
    replayed: number;
    pending: number;
    /** Frames dropped because the spool was full. */
    dropped: number;
    /** Fresh ids the stream was already past (a clock behind, another writer ahead): Redis gave others. */
    idsMoved: number;
    /** Resent entries that got another id than the one they were first sent with. */
    reassigned: number;
    /** Frames rejected for a timestamp too far in the future. */
    futureRejected: number;
  };
}

/**
 * The scanner: reads a frame source and appends every frame to `can:raw`
 * with exactly the contract fields (id, data, ts, dlc), a batch per
 * pipelined Lua call. While Redis is unreachable, batches go to an fsync'd
 * spool file and are replayed in order, exactly once, when it returns.
 */
export async function start(config: ScannerConfig): Promise<ScannerHandle> {
  const log = config.logger;
  const bounds = { ...SCANNER_BOUNDS_DEFAULTS, ...definedOnly(config) };
  for (const k of ['spoolMaxBytes', 'maxFutureSkewMs'] as const)
    if (!Number.isSafeInteger(bounds[k]) || bounds[k] <= 0) throw new ConfigError(`${k} must be a positive integer`);
  const now = config.now ?? Date.now;
  const source = typeof config.source === 'string' ? createFrameSource(parseSourceSpec(config.source)) : config.source;
  let frames = 0;
  let batches = 0;
  let futureRejected = 0;
  let lastFutureLog = 0;
  // The fabric (heartbeat, admin mailbox) comes with the Redis connection;
  // the scanner never waits for it: frames are spooled until Redis is there.
  let runtime: ServiceRuntime | undefined;
  const ref: { writer?: SpooledStreamWriter } = {};
  const connect = async (): Promise<ServiceRuntime | undefined> => {
    try {
      return await startServiceRuntime({
        service: 'scanner',
        log,
        connectAttempts: 1,
        connection: { clientName: 'canopy-scanner', ...urlOpt(config.redisUrl) },
        counters: () => ({ frames, batches, futureRejected, ...ref.writer?.stats, breaker: ref.writer?.breaker.state }),
      });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'Redis unreachable at start; spooling until it is back');
      return undefined;
    }
  };
  if (config.useRedis) runtime = await connect();
  const writer = await SpooledStreamWriter.open(runtime?.conn, {
    stream: config.stream,
    dir: config.spoolDir,
    trim: config.trim,
    useRedis: config.useRedis,
    maxSpoolBytes: bounds.spoolMaxBytes,
    ...(config.waitReplicas !== undefined ? { waitReplicas: config.waitReplicas } : {}),
    ...(config.waitTimeoutMs !== undefined ? { waitTimeoutMs: config.waitTimeoutMs } : {}),
    logger: log,
  });
  ref.writer = writer;
  let retry: NodeJS.Timeout | undefined;
  if (config.useRedis && !runtime) {
    let trying = false;
    retry = setInterval(() => {
      if (trying) return;
      trying = true;
      void connect().then((rt) => {
        trying = false;
        if (!rt) return;
        clearInterval(retry);
        runtime = rt;
        writer.attach(rt.conn);
        log.info('Redis reachable; replaying the spool');
      });
    }, 2000);
  }
  const direct = config.alsoStore ? await DirectStoreWriter.open(config.alsoStore, log) : undefined;
  let stopping = false;
  const pump = async () => {
    for await (const batch of source.batches()) {
      await writeBatch(batch);
      if (stopping) break;
    }
  };
  const writeBatch = async (input: CanFrame[]) => {
    const limit = now() + bounds.maxFutureSkewMs;
    const batch = input.filter((f) => f.ts <= limit);
    if (batch.length < input.length) {
      const n = input.length - batch.length;
      futureRejected += n;
      // logged at most every 10 s: a source with a wrong clock sends nothing else
      if (now() - lastFutureLog >= 10_000) {
        lastFutureLog = now();
        log.warn(
          { rejected: n, futureRejected, maxFutureSkewMs: bounds.maxFutureSkewMs },
          'frames stamped too far in the future rejected (is the source clock right?)',
        );
      }
    }
    if (batch.length === 0) return;
    const fields = batch.map((f) => frameToStreamFields(f) as unknown as Record<string, string>);
    await writer.write(fields);
    frames += batch.length;
    batches++;
    if (direct) await direct.write(batch);
  };
  const done = pump()
    .then(async () => {
      await writer.flush();
      log.info({ frames }, 'frame source ended');
    })
    .catch((err: unknown) => {
      log.error({ err: (err as Error).message }, 'frame source failed');
      throw err;
    });
  done.catch(() => undefined);
  return {
    writer,
    done,
    stats: () => {
      const s = writer.stats;
      return {
        frames,
        batches,
        spooled: s.spooled,
        direct: s.direct,
        replayed: s.replayed,
        pending: s.pending,
        dropped: s.dropped,
        idsMoved: s.idsMoved,
        reassigned: s.reassigned,
        futureRejected,
      };
    },
    async stop() {
      stopping = true;
      runtime?.beginStop(); // without Redis, frames go to the spool at once
      clearInterval(retry);
      await source.close();
      await done.catch(() => undefined);
      await writer.flush().catch(() => undefined);
      await writer.close();
      await direct?.close();
      await runtime?.close();
    },
  };
}

function urlOpt(url: string | undefined): { url?: string } {
  return url ? { url } : {};
}

export function defaultSpoolDir(dataDir: string): string {
  return path.join(dataDir, 'spool');
}

function definedOnly(c: ScannerConfig): Partial<typeof SCANNER_BOUNDS_DEFAULTS> {
  const out: Partial<typeof SCANNER_BOUNDS_DEFAULTS> = {};
  if (c.spoolMaxBytes !== undefined) out.spoolMaxBytes = c.spoolMaxBytes;
  if (c.maxFutureSkewMs !== undefined) out.maxFutureSkewMs = c.maxFutureSkewMs;
  return out;
}
