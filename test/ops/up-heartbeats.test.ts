/**
 * What `canopy up` waits for before "Canopy is up": every service's heartbeat
 * (waitForHeartbeats), against a real Redis; those still missing when the
 * wait ends are the ones it names ("still starting after …").
 */
import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { Heartbeat } from '../../src/bus/presence.js';
import { freePort } from '../../src/ops/ports.js';
import { waitForHeartbeats } from '../../src/ops/up-checks.js';
import { startRedis } from '../support/redis.js';

describe('waitForHeartbeats', () => {
  it('returns once every named service beats, and names the ones that never do when the wait ends', async () => {
    const redis = await startRedis();
    const conn = await Connection.connect({ url: redis.url });
    try {
      let second: Promise<Heartbeat> | undefined;
      const later = setTimeout(
        () => (second = Heartbeat.start(conn, { service: 'alerts', instance: 'host:alerts:1', version: 't' })),
        300,
      );
      const first = await Heartbeat.start(conn, { service: 'worker', instance: 'host:worker:1', version: 't' });
      // alerts starts beating while up waits: nothing is missing
      expect(await waitForHeartbeats(redis.url, ['worker', 'alerts'], 30_000, () => false)).toEqual([]);
      clearTimeout(later);
      // recorder never beats: named when the wait ends
      expect(await waitForHeartbeats(redis.url, ['worker', 'recorder'], 500, () => false)).toEqual(['recorder']);
      // a stop during the wait ends it at once, with what is missing
      expect(await waitForHeartbeats(redis.url, ['recorder'], 60_000, () => true)).toEqual(['recorder']);
      await first.close();
      await (await second)?.close();
    } finally {
      await conn.close();
    }
  });

  it('a Redis that cannot be asked ends the wait with nothing named (canopy status tells more)', async () => {
    expect(await waitForHeartbeats(`redis://127.0.0.1:${await freePort()}`, ['worker'], 60_000, () => false)).toEqual(
      [],
    );
  });
});
