/**
 * The bus in one file (docs/bus.md): topics, a stream with a consumer
 * group, live state and the registry, on any Redis ≥ 6.2.
 *
 *   npx tsx examples/bus-quickstart.ts [redis://host:port] [key-prefix]
 *
 * Outside this repository, import from `canopy/bus` instead of `../src/bus/index.js`.
 * The bus reads no environment variable: the URL is passed explicitly
 * (here from the first argument, else `REDIS_URL`, else the local default).
 * Every key and channel it touches starts with the prefix (`quickstart:`).
 */
import { pathToFileURL } from 'node:url';
import {
  Connection,
  LiveState,
  Publisher,
  Registry,
  StreamConsumer,
  StreamProducer,
  Subscriber,
  type StreamEntry,
} from '../src/bus/index.js';

/** What the walk-through saw, for the caller (and the test) to check. */
export interface QuickstartResult {
  /** Channels a `psubscribe('<prefix>update:*')` heard for one publishTopic. */
  channels: string[];
  /** The stream entries the consumer group handled, in order. */
  handled: Array<Record<string, string>>;
  /** A live value read back. */
  live: string | null;
  /** `seen_count` of a registry record touched twice (Lua, atomically). */
  seenCount: number;
}

export async function quickstart(url: string, prefix = 'quickstart:'): Promise<QuickstartResult> {
  const conn = await Connection.connect({ url, clientName: 'bus-quickstart' });
  const closers: Array<() => Promise<void>> = [() => conn.close()];
  try {
    // 1. Topics: one message to `<base>`, `<base>:<a>` and `<base>:<a>:<b>`, in one round trip.
    const sub = await Subscriber.create(conn);
    closers.unshift(() => sub.close());
    const channels: string[] = [];
    let heard!: () => void;
    const allHeard = new Promise<void>((r) => (heard = r));
    await sub.psubscribe<{ temperature_c: number }>(`${prefix}update*`, (_msg, channel) => {
      channels.push(channel);
      if (channels.length === 3) heard();
    });
    await new Publisher(conn).publishTopic(`${prefix}update`, ['Flower Room', 'bench-1'], { temperature_c: 24.5 });
    await allHeard;

    // 2. A stream: a batching producer and a consumer group that acks after the handler.
    const stream = `${prefix}readings`;
    const producer = new StreamProducer(conn, { stream, trim: { maxLen: 10_000 } });
    closers.unshift(() => producer.close());
    const handled: Array<Record<string, string>> = [];
    let done!: () => void;
    const allDone = new Promise<void>((r) => (done = r));
    const worker = await StreamConsumer.start(
      conn,
      async (entries: StreamEntry[]) => {
        for (const e of entries) handled.push(e.fields);
        if (handled.length >= 3) done();
      },
      { stream, group: 'quickstart', blockMs: 200 },
    );
    closers.unshift(() => worker.stop());
    await producer.addMany([1, 2, 3].map((n) => ({ n: String(n), sensor: 'bench-1' })));
    await allDone;

    // 3. Live state: value + timestamp keys with a TTL, read back with their age.
    const live = new LiveState(conn, { prefix: `${prefix}live:`, ttlSeconds: 30 });
    await live.write([{ name: 'bench-1', value: 24.5 }]);
    const reading = await live.readOne('bench-1');

    // 4. The registry: JSON records with a TTL, merged atomically by a Lua script.
    const registry = new Registry(conn, { prefix: `${prefix}identity:` });
    await registry.touch('sensor', 'bench-1', { firmware: '1.0' });
    const before = await registry.touch('sensor', 'bench-1', { firmware: '1.1' });

    return { channels: channels.sort(), handled, live: reading.value, seenCount: before?.seen_count ?? 0 };
  } finally {
    for (const close of closers) await close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const url = process.argv[2] ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  quickstart(url, process.argv[3]).then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (err: unknown) => {
      process.stderr.write(`quickstart failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
