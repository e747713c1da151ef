/**
 * The dashboard's WebSocket clients across a Sentinel failover: the real
 * `canopy api` process follows the sentinels to the promoted replica,
 * subscribes again there, and the clients — never disconnected — receive the
 * updates published on the new primary.
 */
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../src/ops/ports.js';
import { spawnCli, until } from '../../support/cli-procs.js';
import { startSentinelTopology } from '../../support/redis-topology.js';
import { tempDir } from '../../support/tmp.js';
import { sensorUpdate, WsProbe } from './helpers.js';

type SensorMsg = { type: string; data?: { sensor_data?: Record<string, number> } };

describe('WebSocket clients across a Sentinel failover', () => {
  it('a kill -9 of the Redis primary: the clients stay connected and receive the updates published on the new primary', async () => {
    const topo = await startSentinelTopology();
    const port = await freePort();
    const api = spawnCli(
      ['api', '--port', String(port)],
      {
        REDIS_URL: '',
        REDIS_SENTINELS: topo.sentinelList,
        REDIS_SENTINEL_MASTER: topo.masterName,
        CANOPY_DATA_DIR: tempDir(),
      },
      'error',
    );
    const base = `http://127.0.0.1:${port}`;
    await until(
      'the API answering',
      () =>
        fetch(`${base}/api/sensors`).then(
          (r) => r.ok,
          () => false,
        ),
      60_000,
    );

    const probes = await Promise.all([1, 2, 3].map(() => WsProbe.open(`ws://127.0.0.1:${port}/ws`)));
    let closed = 0;
    for (const p of probes) p.ws.on('close', () => closed++);
    const publishOn = async (node: { host: string; port: number }, value: number) => {
      const c = createClient({ socket: { host: node.host, port: node.port } });
      c.on('error', () => undefined);
      await c.connect();
      await c.publish('sensor:update', sensorUpdate('Flower Room', 'front', { dry_bulb_f: value }));
      c.destroy();
    };
    const got = (p: WsProbe, value: number) =>
      p.messages.some(
        (m) => (m as SensorMsg).type === 'sensor' && (m as SensorMsg).data?.sensor_data?.dry_bulb_f === value,
      );

    /** Publishes `value` on `node` until every client has it (pub/sub drops what no subscriber hears). */
    const reachesAll = (what: string, node: { host: string; port: number }, value: number, timeoutMs: number) =>
      until(
        what,
        async () => {
          await publishOn(node, value);
          return probes.every((p) => got(p, value));
        },
        timeoutMs,
      );

    // before: an update on the primary reaches every client (the API's subscription may still be settling)
    await reachesAll('an update before the failover', await topo.primary(), 21.5, 30_000);

    const old = await topo.killPrimary();
    const next = await topo.waitForFailover(old);
    expect(`${next.host}:${next.port}`).not.toBe(`${old.host}:${old.port}`);
    // after: the API subscribed again on the promoted replica; pub/sub drops what is published meanwhile
    // (by Redis's design), so publish until it arrives
    await reachesAll('an update after the failover', next, 22.5, 60_000);
    expect(closed).toBe(0);
    expect(probes.every((p) => p.ws.readyState === p.ws.OPEN)).toBe(true);
    expect(api.exitCode).toBeNull();
    for (const p of probes) p.close();
  }, 180_000);
});
