import { describe, expect, it } from 'vitest';
import { isTransient, StoreError, toStoreError } from '../../src/store/errors.js';
import { parseDatabaseUrl, resolveStoreOptions } from '../../src/store/options.js';

const withCode = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

describe('store errors', () => {
  it('maps driver errors to stable codes, and says which are worth a retry', () => {
    const cases: [Error, string, boolean][] = [
      [withCode('ECONNREFUSED'), 'STORE_UNAVAILABLE', true],
      [withCode('57P01', 'terminating connection due to administrator command'), 'STORE_UNAVAILABLE', true],
      [withCode('53100', 'could not extend file: No space left on device'), 'STORE_UNAVAILABLE', true],
      [new Error('Connection terminated unexpectedly'), 'STORE_UNAVAILABLE', true],
      [withCode('57014', 'canceling statement due to statement timeout'), 'STORE_TIMEOUT', true],
      [withCode('SQLITE_BUSY', 'database is locked'), 'STORE_BUSY', true],
      [withCode('40P01', 'deadlock detected'), 'STORE_BUSY', true],
      [withCode('42P01', 'relation "x" does not exist'), 'STORE_QUERY', false],
      [withCode('23505', 'duplicate key'), 'STORE_QUERY', false],
    ];
    for (const [err, code, transient] of cases) {
      const se = toStoreError(err, 'ctx');
      expect(se).toBeInstanceOf(StoreError);
      expect([se.code, isTransient(se)]).toEqual([code, transient]);
      expect(se.cause).toBe(err);
      expect(se.message.startsWith('ctx: ')).toBe(true);
    }
    expect(isTransient(new Error('x'))).toBe(false);
  });

  it('parses DATABASE_URL and validates options all at once', () => {
    expect(parseDatabaseUrl('sqlite:./data/canopy.db')).toEqual({ kind: 'sqlite', path: './data/canopy.db' });
    expect(parseDatabaseUrl('sqlite:///var/lib/canopy.db')).toEqual({ kind: 'sqlite', path: '/var/lib/canopy.db' });
    expect(parseDatabaseUrl('postgresql://u:p@h/db')).toEqual({ kind: 'postgres', url: 'postgresql://u:p@h/db' });
    const bad = (() => {
      try {
        parseDatabaseUrl('mysql://user:secret@h/db');
      } catch (e) {
        return e as StoreError;
      }
    })();
    expect(bad?.code).toBe('STORE_CONFIG');
    expect(bad?.message).not.toContain('secret');
    const err = (() => {
      try {
        resolveStoreOptions({ poolSize: 0, retention: { nope: 5 } as never, ingest: 'x' as never });
      } catch (e) {
        return e as StoreError;
      }
    })();
    expect(err?.code).toBe('STORE_CONFIG');
    expect(err?.message).toMatch(/poolSize.*ingest.*retention: unknown table nope/);
    expect(resolveStoreOptions({ retention: { sensor_readings: 1000 } }).retention).toEqual({
      ingested_entries: 30 * 86_400_000,
      sensor_readings: 1000,
    });
  });
});
