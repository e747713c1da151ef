import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { encodePt100 } from '../../../src/can/protocol.js';
import { frameToStreamFields } from '../../../src/can/frame.js';
import { openStore } from '../../../src/store/index.js';
import type { Store } from '../../../src/store/types.js';
import { start as startWorker, type WorkerHandle } from '../../../src/services/worker/index.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { quietLogger, rawClient, waitFor, type Raw } from './helpers.js';
import { present } from '../../support/narrow.js';

describe('malformed can:raw entries', () => {
  let raw: Raw;
  let store: Store;
  let worker: WorkerHandle;

  beforeAll(async () => {
    const redis = await startRedis();
    raw = await rawClient(redis.url);
    store = await openStore(`sqlite:${path.join(tempDir(), 'c.db')}`);
    worker = await startWorker({
      redisUrl: redis.url,
      databaseUrl: 'unused',
      store,
      blockMs: 100,
      logger: quietLogger(),
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await store?.close();
    raw?.destroy();
  });

  it('dead-letters what cannot be parsed, stores unknown ids as UNKNOWN, and keeps running', async () => {
    const t = Date.now();
    const bad: Record<string, string>[] = [
      { data: 'AA BB', ts: String(t), dlc: '2' }, // missing id
      { id: '0x101', data: 'ZZ QQ', ts: String(t), dlc: '2' }, // non-hex data
      { id: '0x101', data: 'AA BB CC', ts: String(t), dlc: '2' }, // dlc does not match
      { id: '0x101', data: Array(65).fill('AA').join(' '), ts: String(t), dlc: '65' }, // oversized
      { id: 'hello', data: 'AA', ts: String(t), dlc: '1' }, // bad id
    ];
    for (const f of bad) await raw.xAdd('can:raw', '*', f);
    await raw.xAdd('can:raw', '*', { id: '0x7F3', data: '01 02', ts: String(t + 1), dlc: '2' }); // unknown id
    const good = frameToStreamFields(encodePt100(2, 22.5, 18.0, 0, t + 2)) as unknown as Record<string, string>;
    await raw.xAdd('can:raw', '*', good);

    await waitFor('dead letters', async () => (await raw.xLen('can:raw:dead')) === bad.length);
    await waitFor('valid frames stored', async () => (await store.countMessages()) === 2);
    const dead = present(await raw.xRange('can:raw:dead', '-', '+'), 'the XRANGE reply');
    const reasons = dead.map((d) => d.message.reason ?? '');
    expect(reasons.some((r) => r.startsWith('MISSING_FIELD'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('BAD_HEX'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('DLC_MISMATCH'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('OVERSIZED') || r.startsWith('BAD_DLC'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('BAD_ID'))).toBe(true);
    // the original fields travel with the dead letter
    expect(dead.some((d) => d.message.data === 'ZZ QQ')).toBe(true);
    expect(Number(await raw.get('sensor:dry_bulb_b'))).toBeCloseTo(22.5, 2);
    expect(worker.stats().deadLettered).toBe(bad.length);
    const pending = (await raw.sendCommand(['XPENDING', 'can:raw', 'can-worker'])) as unknown[];
    expect(Number(pending[0])).toBe(0);
  });
});
