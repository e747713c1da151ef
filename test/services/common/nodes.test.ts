import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { Registry } from '../../../src/bus/registry.js';
import { NodeRegistry } from '../../../src/services/common/nodes.js';
import { startRedis } from '../../support/redis.js';
import { randomPrefix } from '../../support/tmp.js';

let conn: Connection;
beforeAll(async () => {
  conn = await Connection.connect({ url: (await startRedis()).url });
});
afterAll(async () => {
  await conn.close();
});

describe('CAN nodes in the registry', () => {
  it('records frames (throttled), STATUS firmware state and reboots', async () => {
    const prefix = `${randomPrefix()}identity:`;
    const nodes = new NodeRegistry(new Registry(conn, { prefix }));
    const t = 1_700_000_000_000;
    expect(await nodes.seen(1, '0x101', t)).toBe(true);
    expect(await nodes.seen(1, '0x103', t + 200)).toBe(false);
    expect(await nodes.seen(1, '0x103', t + 1200)).toBe(true);
    await nodes.status(1, { uptime_s: 500, errors: 0 }, t + 2000);
    const r = await nodes.status(1, { uptime_s: 3, errors: 2 }, t + 3000);
    expect(r).toMatchObject({
      node: 1,
      uptime_s: 3,
      errors: 2,
      firmware: 'error',
      reboots: 1,
      last_can_id: '0x103',
      seen_count: 4,
    });
    expect(r.first_seen).toBe(new Date(t).toISOString());
    await nodes.seen(2, '0x201', t);
    expect((await nodes.list()).map((n) => n.node)).toEqual([1, 2]);
    expect(await conn.client.exists(`${prefix}can-node:2`)).toBe(1);
  });
});
