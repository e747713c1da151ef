import { beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/bus/connection.js';
import { BUS_SCRIPT_NAMES, readBusScript } from '../../src/bus/lua-scripts.js';
import { startRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';
import { connect } from './helpers.js';
import { present } from '../support/narrow.js';

describe('Lua script headers', () => {
  it.each(BUS_SCRIPT_NAMES)('%s.lua documents its KEYS and ARGV', (name) => {
    const text = readBusScript(name);
    expect(text).toMatch(/^-- KEYS\[1\]/m);
    if (name !== 'mailbox-drain') expect(text).toMatch(/^-- ARGV\[1\]/m);
  });
});

describe('dead-letter.lua on a real redis-server', () => {
  let conn: Connection;
  beforeAll(async () => {
    conn = await connect((await startRedis()).url);
  });

  it('copies fields with reason, source_id and deliveries, and acks, in one step; works before and after SCRIPT FLUSH', async () => {
    const s = `${randomPrefix()}raw`;
    const id = await conn.client.xAdd(s, '*', { id: '0x101', data: 'AA' });
    const gone = await conn.client.xAdd(s, '*', { id: '0x102', data: 'BB' });
    await conn.client.sendCommand(['XGROUP', 'CREATE', s, 'g', '0']);
    await conn.client.sendCommand(['XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', s, '>']);
    await conn.client.xDel(s, gone);
    await conn.client.sendCommand(['SCRIPT', 'FLUSH']);
    const moved = await conn.runScript(
      'dead-letter',
      [s, `${s}:dead`],
      ['g', '1000', id, 'bad frame', '5', gone, 'trimmed', '2'],
    );
    expect(moved).toBe(2);
    const dead = present(await conn.client.xRange(`${s}:dead`, '-', '+'), 'the XRANGE reply');
    expect(dead.map((d) => d.message)).toEqual([
      { id: '0x101', data: 'AA', reason: 'bad frame', source_id: id, deliveries: '5' },
      { reason: 'trimmed', source_id: gone, deliveries: '2' },
    ]);
    const pending = (await conn.client.sendCommand(['XPENDING', s, 'g'])) as unknown[];
    expect(pending[0]).toBe(0);
  });
});
