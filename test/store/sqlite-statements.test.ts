/**
 * The SQLite store keeps its prepared statements (src/store/sqlite/statements.ts):
 * a statement prepared per call is finalized only when V8 collects its object,
 * and its native memory piles up in the meantime.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StatementCache } from '../../src/store/sqlite/statements.js';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../support/tmp.js';
import { msg, reading } from './contract.js';

afterEach(() => vi.restoreAllMocks());

describe('SQLite prepared statements', () => {
  it('are prepared once however many batches, queries and pings run', async () => {
    const s = await openStore(`sqlite:${path.join(tempDir('canopy-stmts-'), 'c.db')}`);
    try {
      const prepare = vi.spyOn(Database.prototype, 'prepare');
      const round = async (i: number) => {
        const id = `${1000 + i}-0`;
        await s.writeBatch({
          messages: [msg(id, 1_700_000_000_000 + i * 1000)],
          readings: [reading(id, 1_700_000_000_000 + i * 1000, 't', i)],
        });
        await s.ping();
        await s.latestReadings();
        await s.countReadings();
        await s.history({ sensor: 't', from: 1_700_000_000_000, to: 1_700_000_100_000, points: 10 });
      };
      await round(0);
      const once = prepare.mock.calls.length;
      expect(once).toBeGreaterThan(0);
      for (let i = 1; i <= 50; i++) await round(i);
      // 50 more rounds of six batch statements and five queries: not one more prepare
      expect(prepare.mock.calls.length).toBe(once);
      expect(await s.countReadings()).toBe(51);
    } finally {
      await s.close();
    }
  });

  it('keeps at most its bound, the least recently used going first, and hands back the same statement', () => {
    const db = new Database(':memory:');
    try {
      const c = new StatementCache(db, 2);
      const a = c.prepare('SELECT 1');
      const b = c.prepare('SELECT 2');
      expect(c.prepare('SELECT 1')).toBe(a); // used again: now the most recent
      c.prepare('SELECT 3'); // "SELECT 2" goes
      expect(c.size).toBe(2);
      expect(c.prepare('SELECT 1')).toBe(a);
      expect(c.prepare('SELECT 2')).not.toBe(b); // prepared anew
      expect(c.size).toBe(2);
    } finally {
      db.close();
    }
  });
});
