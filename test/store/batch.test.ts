import { describe, expect, it } from 'vitest';
import { freshRows } from '../../src/store/batch.js';
import { aggregateReadings } from '../../src/store/buckets.js';
import type { CanMessageRow, ReadingRow } from '../../src/store/types.js';

const reading = (streamId: string, sensor: string, time = 0, value = 1): ReadingRow => ({
  streamId,
  sensor,
  time,
  value,
  location: 'room-1',
  cluster: 'a',
});
const message = (streamId: string): CanMessageRow => ({
  streamId,
  timestamp: 1,
  canId: 0x101,
  nodeId: 1,
  messageType: 'pt100',
  dlc: 4,
  rawData: 'AA',
  decodedData: null,
});

/** The rule, written the obvious way: the first reading of each (stream id, sensor) of a fresh id. */
function reference(readings: ReadingRow[], fresh: Set<string>): ReadingRow[] {
  const seen = new Set<string>();
  return readings.filter((r) => {
    const key = JSON.stringify([r.streamId, r.sensor]);
    if (!fresh.has(r.streamId) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

describe('freshRows', () => {
  it("keeps one message per fresh stream id and one reading per (id, sensor), an id's readings together", () => {
    const readings = [
      reading('1-0', 't'),
      reading('1-0', 'rh'),
      reading('1-0', 't', 5), // the same sensor twice in one frame's readings: the first is kept
      reading('2-0', 't'),
      reading('3-0', 't'),
    ];
    const fresh = new Set(['1-0', '3-0']);
    const out = freshRows(
      { messages: [message('1-0'), message('1-0'), message('2-0'), message('3-0')], readings },
      fresh,
    );
    expect(out.messages.map((m) => m.streamId)).toEqual(['1-0', '3-0']);
    expect(out.readings).toEqual([readings[0], readings[1], readings[4]]);
  });

  it('an id whose readings come back after another id (the same entry twice in a batch) is still stored once', () => {
    const readings = [reading('1-0', 't'), reading('2-0', 't'), reading('1-0', 't', 9), reading('1-0', 'co2')];
    const fresh = new Set(['1-0', '2-0']);
    const out = freshRows({ messages: [], readings }, fresh);
    expect(out.readings).toEqual([readings[0], readings[1], readings[3]]);
  });

  it('agrees with the obvious rule on random batches (ids repeated, interleaved, some not fresh)', () => {
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let round = 0; round < 200; round++) {
      const readings: ReadingRow[] = [];
      const ids = Array.from({ length: 1 + rnd(6) }, (_, i) => `${i}-0`);
      const grouped = rnd(2) === 0;
      for (const id of ids) {
        for (let k = rnd(4); k >= 0; k--) {
          const r = reading(grouped ? id : ids[rnd(ids.length)]!, ['t', 'rh', 'co2'][rnd(3)]!, rnd(100));
          readings.push(r);
        }
      }
      const fresh = new Set(ids.filter(() => rnd(4) > 0));
      expect(freshRows({ messages: [], readings }, fresh).readings).toEqual(reference(readings, fresh));
    }
  });
});

describe('aggregateReadings', () => {
  it('gives min, max, sum and count per sensor and bucket, in first-seen order', () => {
    const rows = [
      reading('1-0', 't', 1_000, 20),
      reading('1-0', 'rh', 1_000, 60),
      reading('2-0', 't', 59_000, 22),
      reading('3-0', 't', 60_000, 19),
      reading('4-0', 't', 30_000, 18),
    ];
    expect(aggregateReadings(rows, 60_000)).toEqual([
      { sensor: 't', t: 0, min: 18, max: 22, sum: 60, count: 3 },
      { sensor: 'rh', t: 0, min: 60, max: 60, sum: 60, count: 1 },
      { sensor: 't', t: 60_000, min: 19, max: 19, sum: 19, count: 1 },
    ]);
  });
});
