import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePt100, encodeScd30, encodeStatus } from '../../src/can/protocol.js';
import { FrameProcessor } from '../../src/cea/processor.js';
import { StoreFrameSource } from '../../src/monitor/can-sources.js';
import { openStore, StoreError, type Store } from '../../src/store/index.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { tempDir } from '../support/tmp.js';

let pg: TestPostgres;
const stores: Store[] = [];

beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);
afterAll(async () => {
  for (const s of stores) await s.close();
  await pg?.kill();
});

const backends: [string, () => Promise<string>][] = [
  ['SQLite', async () => `sqlite:${path.join(tempDir('canopy-msgs-'), 'canopy.db')}`],
  ['PostgreSQL', async () => pg.createDatabase()],
];

describe.each(backends)('Store.messages on %s (what the CAN monitor reads)', (_name, url) => {
  it('returns the newest rows or those after a cursor, in insertion order, decoded; since bounds by frame time', async () => {
    const store = await openStore(await url(), { sweepIntervalMs: 0, timescale: 'off' });
    stores.push(store);
    const p = new FrameProcessor();
    const now = Date.now();
    const write = async (frames: ReturnType<typeof encodePt100>[], tag: string) => {
      const r = p.process(frames.map((frame, i) => ({ streamId: `${tag}-${i}`, frame })));
      await store.writeBatch({ messages: r.messages, readings: r.readings });
    };
    expect(await store.messages({})).toEqual([]);
    await write(
      [
        encodePt100(1, 23.5, 18.2, 0, now - 7_200_000),
        encodeScd30(2, 812, 23.1, 58, now - 1000),
        encodeStatus(3, 60, 1, now),
      ],
      '1',
    );
    const all = await store.messages({});
    expect(all.map((m) => [m.messageType, m.nodeId, m.canId])).toEqual([
      ['PT100', 1, 0x101],
      ['SCD30', 2, 0x203],
      ['STATUS', 3, 0x30f],
    ]);
    expect(all[0]?.timestamp).toBe(now - 7_200_000);
    expect(all[1]?.decodedData).toEqual({ co2_ppm: 812, temp_c: 23.1, rh_pct: 58 });
    expect(all[2]?.rawData).toMatch(/^[0-9A-F]{2}( [0-9A-F]{2})*$/);
    expect(all[0]!.id).toBeLessThan(all[1]!.id);

    expect((await store.messages({ limit: 2 })).map((m) => m.messageType)).toEqual(['SCD30', 'STATUS']);
    expect((await store.messages({ afterId: all[0]!.id, limit: 1 })).map((m) => m.messageType)).toEqual(['SCD30']);
    expect(await store.messages({ afterId: all[2]!.id })).toEqual([]);
    expect((await store.messages({ since: now - 60_000 })).map((m) => m.messageType)).toEqual(['SCD30', 'STATUS']);
    await expect(store.messages({ limit: 0 })).rejects.toBeInstanceOf(StoreError);
    await expect(store.messages({ afterId: -1 })).rejects.toMatchObject({ code: 'STORE_INVALID' });

    // the monitor's source: a cursor that only ever moves forward, each row once
    const src = new StoreFrameSource(store, { lookbackMs: 3_600_000 });
    const first = await src.latest(10);
    expect(first.map((f) => f.type)).toEqual(
      store.kind === 'sqlite' ? ['PT100', 'SCD30', 'STATUS'] : ['SCD30', 'STATUS'],
    );
    expect(await src.next(100)).toEqual([]);
    await write([encodePt100(2, 21, 17, 0, now + 10)], '2');
    const next = await src.next(100);
    expect(next.map((f) => [f.type, f.node, f.decoded?.temp_dry_c])).toEqual([['PT100', 2, 21]]);
    expect(await src.next(100)).toEqual([]);
  });
});
