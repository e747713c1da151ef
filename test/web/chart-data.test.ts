import { describe, expect, it } from 'vitest';
import type { Sensor } from '../../web/src/api.js';
import {
  alignWithGaps,
  bandsFromRooms,
  decimalsFor,
  findGaps,
  formatValue,
  groupByUnit,
  rangeWith,
  seriesLabels,
} from '../../web/src/chart-data.js';
import { csvField, csvFileName, toCsv } from '../../web/src/csv.js';
import { lastDays } from '../../web/src/ontime.js';

const sensor = (name: string, unit: string, base: string, location = 'Flower Room', cluster = 'front'): Sensor => ({
  name,
  unit,
  base,
  location,
  cluster,
  kind: 'k',
  min: null,
  max: null,
});

const every = (from: number, step: number, n: number, v = 1) =>
  Array.from({ length: n }, (_, i) => ({ t: from + i * step, v: v + i }));

describe('precision per unit', () => {
  it('shows °C to 0.1, % and ppm and hPa whole, kPa to 0.01', () => {
    expect(formatValue(24.26, '°C')).toBe('24.3 °C');
    expect(formatValue(61.5, '%')).toBe('62 %');
    expect(formatValue(1.126, 'kPa')).toBe('1.13 kPa');
    expect(formatValue(812.4, 'ppm')).toBe('812 ppm');
    expect(formatValue(1013.26, 'hPa')).toBe('1013 hPa');
    expect(formatValue(3.14159, 'lux')).toBe('3.1 lux');
    expect(decimalsFor('kPa')).toBe(2);
  });
  it('shows a dash for no value, no unit when asked, never -0', () => {
    expect(formatValue(null, '°C')).toBe('—');
    expect(formatValue(undefined, '°C')).toBe('—');
    expect(formatValue(Number.NaN, '°C')).toBe('—');
    expect(formatValue(24.25, '°C', false)).toBe('24.3');
    expect(formatValue(-0.04, '°C')).toBe('0.0 °C');
    expect(formatValue(-0.4, '%')).toBe('0 %');
    expect(formatValue(-1.5, '°C')).toBe('-1.5 °C');
  });
});

describe('axis grouping', () => {
  it('puts two units on one chart and a third unit on a second chart', () => {
    const items = [
      { name: 'a', unit: '°C' },
      { name: 'b', unit: '%' },
      { name: 'c', unit: '°C' },
      { name: 'd', unit: 'kPa' },
    ];
    const groups = groupByUnit(items);
    expect(groups.map((g) => g.units)).toEqual([['°C', '%'], ['kPa']]);
    expect(groups[0]!.items.map((i) => i.name)).toEqual(['a', 'b', 'c']);
    expect(groups[1]!.items.map((i) => i.name)).toEqual(['d']);
  });
  it('keeps one chart for one or two units, none for nothing', () => {
    expect(groupByUnit([{ unit: '°C' }, { unit: '°C' }])).toHaveLength(1);
    expect(groupByUnit([{ unit: '°C' }, { unit: 'ppm' }])).toHaveLength(1);
    expect(groupByUnit([])).toEqual([]);
    expect(groupByUnit(['a', 'b', 'c', 'd', 'e'].map((unit) => ({ unit }))).map((g) => g.units.length)).toEqual([
      2, 2, 1,
    ]);
  });
});

describe('gaps', () => {
  it('finds an outage longer than 2.5 buckets and nothing in steady data', () => {
    const before = every(0, 60_000, 10);
    const after = every(30 * 60_000, 60_000, 10);
    expect(findGaps([...before, ...after], 60_000)).toEqual([[9 * 60_000, 30 * 60_000]]);
    expect(findGaps(every(0, 60_000, 50), 60_000)).toEqual([]);
    // one bucket missing is jitter, not an outage
    expect(findGaps([...every(0, 60_000, 5), ...every(6 * 60_000, 60_000, 5)], 60_000)).toEqual([]);
  });
  it('uses the series spacing when the sensor is read less often than the bucket width', () => {
    // read every 10 s, 5 s buckets: every other bucket is empty, no gap
    expect(findGaps(every(0, 10_000, 100), 5000)).toEqual([]);
    // without a bucket width the spacing alone decides
    expect(findGaps([...every(0, 10_000, 20), ...every(600_000, 10_000, 20)], 0)).toHaveLength(1);
  });
  it('puts a null inside each outage and undefined where only another series has a point', () => {
    const a = [...every(0, 60_000, 3), ...every(20 * 60_000, 60_000, 3)];
    const b = every(0, 30_000, 4);
    const { xs, ys, gaps } = alignWithGaps([a, b], 60_000);
    expect(gaps[0]).toEqual([[120_000, 1_200_000]]);
    expect(gaps[1]).toEqual([]);
    // a gets its own time inside the outage (no other series has one there): the first bucket after
    const at = xs.indexOf(180_000);
    expect(at).toBeGreaterThan(0);
    expect(ys[0]![at]).toBeNull();
    // b has a point at 30 s, a does not: joined over, not a gap
    expect(ys[0]![xs.indexOf(30_000)]).toBeUndefined();
    expect(ys[1]![xs.indexOf(30_000)]).toBe(2);
    // b ends at 90 s: no gap after its last point
    expect(ys[1]!.filter((v) => v === null)).toEqual([]);
    expect(ys[0]![xs.indexOf(1_200_000)]).toBe(1);
  });
  it('marks every other series time inside the outage as null', () => {
    const a = [...every(0, 60_000, 3), ...every(10 * 60_000, 60_000, 3)];
    const b = every(0, 60_000, 13);
    const { xs, ys } = alignWithGaps([a, b], 60_000);
    const inside = xs.map((t, i) => [t, i] as const).filter(([t]) => t > 120_000 && t < 600_000);
    expect(inside.length).toBeGreaterThan(0);
    for (const [, i] of inside) expect(ys[0]![i]).toBeNull();
    expect(ys[1]!.every((v) => typeof v === 'number')).toBe(true);
  });
});

describe('scale range', () => {
  it('includes the band bounds and pads', () => {
    const [lo, hi] = rangeWith(24, 25, [20, 28])!;
    expect(lo).toBeLessThan(20);
    expect(hi).toBeGreaterThan(28);
    expect(rangeWith(null, null, [])).toBeNull();
    const [a, b] = rangeWith(5, 5, [])!;
    expect(a).toBeLessThan(5);
    expect(b).toBeGreaterThan(5);
  });
});

describe('bands and labels', () => {
  const catalogue = [
    sensor('dry_bulb_f', '°C', 'dry_bulb'),
    sensor('rh_f', '%', 'rh'),
    sensor('vpd_f', 'kPa', 'vpd'),
    sensor('dry_bulb_v', '°C', 'dry_bulb', 'Veg Room', 'main'),
  ];
  it('maps room key values to the sensors measuring them', () => {
    const bands = bandsFromRooms(
      [
        {
          location: 'Flower Room',
          cluster: 'front',
          key: [
            { quantity: 'temperature', low: 22, high: 28, target: 25 },
            { quantity: 'vpd_leaf', low: 1, high: 1.4 },
            { quantity: 'rh', sensor: 'rh_f', target: 55 },
            { quantity: 'co2' },
          ],
        },
        { location: 'Veg Room', cluster: 'main' },
      ],
      catalogue,
    );
    expect(bands).toEqual([
      { sensor: 'dry_bulb_f', low: 22, high: 28, target: 25 },
      { sensor: 'rh_f', low: undefined, high: undefined, target: 55 },
    ]);
  });
  it('uses labels, adding the room only where two would read the same', () => {
    const labelled = [
      { ...catalogue[0]!, label: 'Temperature' },
      { ...catalogue[3]!, label: 'Temperature' },
      { ...catalogue[1]!, label: 'Humidity' },
      catalogue[2]!,
    ];
    expect([...seriesLabels(labelled).values()]).toEqual([
      'Temperature · Flower Room front',
      'Temperature · Veg Room',
      'Humidity',
      'vpd_f',
    ]);
  });
});

describe('CSV', () => {
  it('has ISO times, one column per series with its unit, values at the unit precision', () => {
    const t0 = Date.UTC(2026, 10, 30, 12, 0, 0);
    const csv = toCsv([
      {
        label: 'Temperature, front',
        unit: '°C',
        values: new Map([
          [t0, 24.26],
          [t0 + 60_000, null],
          [t0 + 120_000, 24.5],
        ]),
      },
      {
        label: 'VPD',
        unit: 'kPa',
        values: new Map<number, number | null | undefined>([
          [t0, 1.234],
          [t0 + 60_000, null],
          [t0 + 120_000, undefined],
        ]),
      },
    ]);
    expect(csv.split('\r\n')).toEqual([
      'time,"Temperature, front (°C)",VPD (kPa)',
      '2026-11-30T12:00:00.000Z,24.3,1.23',
      '2026-11-30T12:02:00.000Z,24.5,',
      '',
    ]);
  });
  it('quotes fields that need it and names the file by the time', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('a\nb')).toBe('"a\nb"');
    expect(csvFileName(Date.UTC(2026, 11, 1, 15, 40))).toBe('canopy-history-2026-12-01T1540.csv');
  });
});

describe('on-time days', () => {
  it('lists the last days, oldest first, across a month end', () => {
    expect(lastDays(new Date(2026, 11, 2, 10), 4)).toEqual(['2026-11-29', '2026-11-30', '2026-12-01', '2026-12-02']);
  });
});
