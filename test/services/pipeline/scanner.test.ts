import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/index.js';
import { start as startScanner } from '../../../src/services/scanner/index.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { quietLogger, rawClient } from './helpers.js';
import fs from 'node:fs';
import { present } from '../../support/narrow.js';

describe('canopy scanner', () => {
  it('replays a candump -L log into can:raw with the contract fields, and with --also-store writes every frame to the store too', async () => {
    const redis = await startRedis();
    const dir = tempDir();
    const log = path.join(dir, 'capture.log');
    fs.writeFileSync(
      log,
      [
        '(1700000000.000100) can0 101#C4090A0700', // PT100 node 1: 25.00 / 18.02
        '(1700000000.000200) can0 102#9227', // PRESSURE node 1: 1013.0 hPa
        '(1700000000.000300) can0 00000343#0102', // extended id
        'garbage line',
        '(1700000000.000400) can0 7F1#', // unknown id, no data
      ].join('\n') + '\n',
    );
    const dbUrl = `sqlite:${path.join(dir, 'direct.db')}`;
    const scanner = await startScanner({
      source: `replay:${log}`,
      redisUrl: redis.url,
      useRedis: true,
      spoolDir: path.join(dir, 'spool'),
      stream: 'can:raw',
      trim: { maxLen: 1000 },
      alsoStore: dbUrl,
      logger: quietLogger(),
    });
    await scanner.done;
    await scanner.stop();
    const raw = await rawClient(redis.url);
    const entries = present(await raw.xRange('can:raw', '-', '+'), 'the XRANGE reply');
    expect(entries.map((e) => e.message)).toEqual([
      { id: '0x101', data: 'C4 09 0A 07 00', ts: '1700000000000', dlc: '5' },
      { id: '0x102', data: '92 27', ts: '1700000000000', dlc: '2' },
      { id: '0x00000343', data: '01 02', ts: '1700000000000', dlc: '2' },
      { id: '0x7F1', data: '', ts: '1700000000000', dlc: '0' },
    ]);
    raw.destroy();
    const store = await openStore(dbUrl);
    expect(await store.countMessages()).toBe(4);
    const rows = [];
    for await (const r of store.exportReadings({ sensors: ['dry_bulb_f'], from: 1699999999000, to: 1700000001000 }))
      rows.push(r);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.value).toBeCloseTo(25.0, 2);
    await store.close();
  });
});
