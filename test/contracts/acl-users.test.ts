import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerUser } from '../../src/contracts/acl-consumers.js';
import { canopyUsers } from '../../src/contracts/acl-users.js';
import { Connection } from '../../src/bus/connection.js';
import { PermissionError } from '../../src/bus/errors.js';
import { sendAdminMessage } from '../../src/bus/mailbox.js';
import { listInstances } from '../../src/bus/presence.js';
import { Registry } from '../../src/bus/registry.js';
import { SpooledStreamWriter } from '../../src/bus/spooled-stream.js';
import { LiveState } from '../../src/bus/state.js';
import { loadState, saveState } from '../../src/services/automation/persist.js';
import { UserChannels } from '../../src/client/channels.js';
import { RelayClient } from '../../src/client/relay.js';
import { start as startGatewayService, type GatewayHandle } from '../../src/services/gateway/index.js';
import { tempDir } from '../support/tmp.js';
import { until } from '../gateway/helpers.js';
import { startRedisWithUsers } from '../support/redis-acl.js';

/** Canopy's own code (fabric runtime, mailbox, registry, gateway, consumer client) running as its ACL users. */
describe('Canopy code under the generated ACL users', () => {
  const users = [...canopyUsers(), consumerUser({ name: 'ml', users: ['jamie'] })];
  let url: (user: string) => string;
  let gw: GatewayHandle | undefined;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    ({ url } = await startRedisWithUsers(users));
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await gw?.stop();
  });

  it('the gateway service (heartbeat, mailbox, registry, backlog) and a consumer of jamie do a full round trip', async () => {
    const token = 'jamie-token-0123456789abcdef';
    gw = await startGatewayService({
      port: 0,
      tokens: new Map([['jamie', token]]),
      redis: { url: url('canopy-gateway'), healthCheckIntervalMs: 0 },
    });
    const consumer = await UserChannels.connect({ redis: { url: url('consumer-ml'), healthCheckIntervalMs: 0 } });
    closers.push(() => consumer.close());
    await consumer.subscribe('jamie', 'raw', async (m) => {
      await consumer.publishPrediction('jamie', { data: { echo: m.channels.Ch0 as number } });
    });
    const relay = new RelayClient({ url: gw.gateway.url, user: 'jamie', token });
    closers.push(() => relay.close());
    const got: number[] = [];
    relay.on('prediction', (p) => got.push(p.data.echo as number));
    await relay.start();
    for (let i = 0; i < 20; i++) relay.sendRaw({ Ch0: i });
    await until(() => got.length === 20, 'the predictions');
    expect(got).toEqual([...Array(20).keys()]);
    expect(gw.gateway.stats.backlogErrors).toBe(0);
    expect(gw.gateway.stats.publishErrors).toBe(0);

    // the consumer may not do more than its grant
    const err = await consumer.publish('jamie', 'commands', { type: 'command', command: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionError);

    // operators reach the gateway's mailbox as canopy-cli; the gateway's identity records are there
    const cli = await Connection.connect({ url: url('canopy-cli'), healthCheckIntervalMs: 0 });
    closers.push(() => cli.close());
    const live = await listInstances(cli);
    expect(live.map((l) => l.info?.service)).toContain('gateway');
    const { reply } = await sendAdminMessage(cli, gw.runtime.instance, 'ping');
    expect(reply?.ok).toBe(true);
    const reader = await Connection.connect({ url: url('canopy-monitor'), healthCheckIntervalMs: 0 });
    closers.push(() => reader.close());
    const relays = await new Registry(reader).list('relay');
    expect(relays.map((r) => (r.data as { user: string }).user)).toEqual(['jamie']);
  });

  it('the scanner spool writer, the worker live keys and the automation state work as their users', async () => {
    const sc = await Connection.connect({ url: url('canopy-scanner'), healthCheckIntervalMs: 0 });
    closers.push(() => sc.close());
    const writer = await SpooledStreamWriter.open(sc, { stream: 'can:raw', dir: tempDir() });
    closers.push(() => writer.close());
    expect(await writer.write([{ id: '0x101', data: 'AA FF', ts: '1', dlc: '2' }])).toBe('redis');
    const w = await Connection.connect({ url: url('canopy-worker'), healthCheckIntervalMs: 0 });
    closers.push(() => w.close());
    await new LiveState(w, { prefix: 'sensor:' }).write([{ name: 'dry_bulb_f', value: 24.5 }]);
    const api = await Connection.connect({ url: url('canopy-api'), healthCheckIntervalMs: 0 });
    closers.push(() => api.close());
    expect((await new LiveState(api, { prefix: 'sensor:' }).readOne('dry_bulb_f')).value).toBe('24.5');
    expect(await api.run('XLEN', (c) => c.xLen('can:raw'))).toBe(1);
    await expect(new LiveState(api, { prefix: 'sensor:' }).write([{ name: 'x', value: 1 }])).rejects.toBeInstanceOf(
      PermissionError,
    );
    const au = await Connection.connect({ url: url('canopy-automation'), healthCheckIntervalMs: 0 });
    closers.push(() => au.close());
    await saveState(au, 'automation:state', { snapshot: {}, onTime: { heater_1: { '2026-01-01': 3600 } } });
    expect((await loadState(au, 'automation:state')).onTime).toEqual({ heater_1: { '2026-01-01': 3600 } });
    await au.run('PUBLISH', (c) => c.publish('automation:events', '{}'));
    // the server clock for command ages, and the worker's counters that the API's /metrics reads
    expect(await au.run('TIME', (c) => c.time())).toHaveLength(2);
    await w.run('HINCRBY', (c) => c.hIncrBy('stats:worker', 'frames', 3));
    expect(await api.run('HGETALL', (c) => c.hGetAll('stats:worker'))).toEqual({ frames: '3' });
    await expect(api.run('HINCRBY', (c) => c.hIncrBy('stats:worker', 'frames', 1))).rejects.toBeInstanceOf(
      PermissionError,
    );
  });

  it('the worker writes CAN node identities through the registry script; the API may not', async () => {
    const w = await Connection.connect({ url: url('canopy-worker'), healthCheckIntervalMs: 0 });
    closers.push(() => w.close());
    await new Registry(w).touch('can-node', '1', { firmware: 'ok' });
    await new Registry(w).touch('can-node', '1', { firmware: 'ok' });
    const api = await Connection.connect({ url: url('canopy-api'), healthCheckIntervalMs: 0 });
    closers.push(() => api.close());
    const rec = await new Registry(api).read<{ seen_count: number }>('can-node', '1');
    expect(rec?.seen_count).toBe(2);
    await expect(new Registry(api).touch('can-node', '2', {})).rejects.toBeInstanceOf(PermissionError);
  });
});
