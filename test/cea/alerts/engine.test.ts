import { describe, expect, it } from 'vitest';
import { AlertEngine, globMatch, validateRules } from '../../../src/cea/alerts/engine.js';
import { subjectOf } from '../../../src/services/alerts/channels.js';

describe('alert engine', () => {
  it('reminds an active alert every reminder interval and never repeats it in between', () => {
    const e = new AlertEngine({
      rules: [{ id: 'hot', sensor: 't', above: 30 }],
      reminder_interval_s: 60,
      stale_after_s: 0,
    });
    expect(e.reading('t', 31, 0).map((t) => t.type)).toEqual(['fired']);
    expect(e.reading('t', 35, 1000)).toEqual([]);
    expect(e.tick(59_000)).toEqual([]);
    expect(e.tick(60_000).map((t) => t.type)).toEqual(['reminder']);
    expect(e.tick(61_000)).toEqual([]);
    expect(e.tick(120_000).map((t) => t.type)).toEqual(['reminder']);
    expect(e.reading('t', 29, 121_000).map((t) => t.type)).toEqual(['resolved']);
    expect(e.tick(500_000)).toEqual([]);
  });

  it('a sensor that goes quiet is stale until it reports again', () => {
    const e = new AlertEngine({ stale_after_s: 10, stale_sensors: ['co2_*'], reminder_interval_s: 0 });
    e.reading('co2_f', 800, 0);
    e.reading('other', 1, 0);
    expect(e.tick(5_000)).toEqual([]);
    const fired = e.tick(11_000);
    expect(fired.map((t) => t.alert.key)).toEqual(['stale:co2_f']);
    expect(e.tick(20_000)).toEqual([]);
    expect(e.reading('co2_f', 810, 21_000).map((t) => `${t.type} ${t.alert.key}`)).toEqual(['resolved stale:co2_f']);
  });

  it('a below rule with a duration resets when the value recovers before it elapses', () => {
    const e = new AlertEngine({ rules: [{ id: 'cold', sensor: 't', below: 10, for_s: 30 }], stale_after_s: 0 });
    expect(e.reading('t', 9, 0)).toEqual([]);
    expect(e.reading('t', 11, 20_000)).toEqual([]);
    expect(e.reading('t', 9, 25_000)).toEqual([]);
    expect(e.reading('t', 9, 50_000)).toEqual([]);
    expect(e.reading('t', 8, 55_000).map((t) => t.type)).toEqual(['fired']);
  });

  it('service-down fires only when no other instance of the service is live', () => {
    const e = new AlertEngine({});
    e.serviceUp('worker', 'a', 0);
    e.serviceUp('worker', 'b', 0);
    expect(e.serviceGone('worker', 'a', 1)).toEqual([]);
    expect(e.serviceGone('worker', 'b', 2).map((t) => t.alert.key)).toEqual(['service-down:worker']);
    expect(e.serviceUp('worker', 'c', 3).map((t) => t.type)).toEqual(['resolved']);
  });

  it('globs, rule validation and grouped subjects', () => {
    expect(globMatch('dry_bulb_*', 'dry_bulb_f')).toBe(true);
    expect(globMatch('co2_?', 'co2_fx')).toBe(false);
    expect(validateRules({ ...new AlertEngine().config, rules: [{ id: 'x', sensor: 's' }] })).toEqual([
      'rule x: needs above or below',
    ]);
    const t = (type: 'fired' | 'resolved') => ({
      type,
      at: 0,
      alert: {
        key: 'k',
        rule: 'r',
        subject: 's',
        kind: 'threshold' as const,
        severity: 'w',
        message: 'm',
        started_at: '',
      },
    });
    expect(subjectOf([t('fired'), t('fired'), t('resolved')])).toBe('[Canopy] 3 alerts: 2 firing, 1 resolved');
  });
});
