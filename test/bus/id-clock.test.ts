import { describe, expect, it } from 'vitest';
import { StreamIdClock } from '../../src/bus/streams/id-clock.js';

const parse = (id: string): [bigint, bigint] => id.split('-').map(BigInt) as [bigint, bigint];
const above = (a: string, b: string) => {
  const [am, as] = parse(a);
  const [bm, bs] = parse(b);
  return am > bm || (am === bm && as > bs);
};

describe('StreamIdClock', () => {
  it('gives <ms>-<seq> from the clock, counting within one millisecond', () => {
    const c = new StreamIdClock();
    expect([c.next(1000), c.next(1000), c.next(1000), c.next(1001)]).toEqual(['1000-0', '1000-1', '1000-2', '1001-0']);
  });

  it('only grows when the clock steps back', () => {
    const c = new StreamIdClock();
    expect(c.next(5000)).toBe('5000-0');
    expect(c.next(4000)).toBe('5000-1');
    expect(c.next(4999)).toBe('5000-2');
    expect(c.next(5001)).toBe('5001-0');
  });

  it('goes above an id it observed (another writer ahead, Redis gave a new one); ignores lower ones and junk', () => {
    const c = new StreamIdClock();
    c.next(1000);
    c.observe('2000-7');
    expect(c.next(1500)).toBe('2000-8');
    c.observe('1999-99');
    c.observe('not-an-id');
    c.observe('');
    expect(c.next(1500)).toBe('2000-9');
    // sequence numbers beyond 2^53 stay exact
    c.observe('2000-18446744073709551000');
    expect(c.next(2000)).toBe('2000-18446744073709551001');
  });

  it('every id is above the one before, whatever the clock does', () => {
    const c = new StreamIdClock();
    let last = c.next(0);
    for (const t of [10, 10, 3, 11, 11, 0, 50, 49, 50]) {
      const id = c.next(t);
      expect(above(id, last), `${id} after ${last}`).toBe(true);
      last = id;
    }
  });
});
