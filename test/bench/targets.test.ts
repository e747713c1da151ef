import { describe, expect, it } from 'vitest';
import { RATIOS, evaluate, ratiosFor, score, type RatioSpec } from '../../bench/lib/targets.js';

const spec = (over: Partial<RatioSpec> = {}): RatioSpec => ({
  id: 'x',
  bench: 'b',
  figure: 'f',
  denominator: 'd',
  direction: 'atLeast',
  target: 1.5,
  text: 't',
  ...over,
});

describe('ratio targets', () => {
  it('divides the figure by its denominator and compares with the target in its direction', () => {
    expect(evaluate(spec(), { f: 300, d: 100 })).toMatchObject({
      ratio: 3,
      status: 'met',
      figureValue: 300,
      denominatorValue: 100,
    });
    expect(evaluate(spec(), { f: 100, d: 100 })).toMatchObject({ ratio: 1, status: 'missed' });
    expect(evaluate(spec({ direction: 'atMost', target: 1.1 }), { f: 105, d: 100 }).status).toBe('met');
    expect(evaluate(spec({ direction: 'atMost', target: 1.1 }), { f: 120, d: 100 }).status).toBe('missed');
  });

  it('meets a target exactly on the boundary', () => {
    expect(evaluate(spec({ target: 2 }), { f: 200, d: 100 }).status).toBe('met');
    expect(evaluate(spec({ direction: 'atMost', target: 0, denominator: null }), { f: 0 }).status).toBe('met');
  });

  it('compares an absolute bound against the figure itself', () => {
    const r = evaluate(spec({ denominator: null, direction: 'atMost', target: 120 }), { f: 130 });
    expect(r).toMatchObject({ ratio: 130, denominator: null, denominatorValue: null, status: 'missed' });
  });

  it('says "not measured" when the figure or its denominator is missing, zero or not finite', () => {
    expect(evaluate(spec(), { d: 100 }).status).toBe('not measured');
    expect(evaluate(spec(), { f: 100 }).status).toBe('not measured');
    expect(evaluate(spec(), { f: 100, d: 0 }).status).toBe('not measured');
    expect(evaluate(spec(), { f: NaN, d: 10 })).toMatchObject({
      status: 'not measured',
      figureValue: null,
      ratio: null,
    });
  });

  it('derives the live p99 bound from connections and requests per second', () => {
    const live = RATIOS.find((r) => r.id === 'live_p99_bound')!;
    // 200 connections at 10,000 req/s → 20 ms; p99 of 30 ms is 1.5 × that
    const r = evaluate(live, { live_connections: 200, live_req_per_s: 10_000, live_p99_ms: 30 });
    expect(r.denominatorValue).toBe(20);
    expect(r.ratio).toBe(1.5);
    expect(r.status).toBe('met');
    expect(evaluate(live, { live_connections: 200, live_req_per_s: 10_000, live_p99_ms: 50 }).status).toBe('missed');
  });

  it('uses the names issue #17 fixes for every denominator', () => {
    const names = RATIOS.map((r) => (typeof r.denominator === 'string' ? r.denominator : null)).filter(Boolean);
    for (const n of [
      'raw_drain_per_s',
      'bare_postgres_frames_per_s',
      'bare_sqlite_frames_per_s',
      'live_bare_req_per_s',
      'ws_bare_fanout_p99_ms',
      'bare_capacity_msgs_per_s',
      'naive_e2e_sqlite_frames_per_s',
      'naive_e2e_postgres_frames_per_s',
      'naive_relay_latency_p99_ms',
    ])
      expect(names).toContain(n);
    expect(new Set(RATIOS.map((r) => r.id)).size).toBe(RATIOS.length);
  });

  it('gives each result file only its own ratios', () => {
    const bus = ratiosFor('bus', { drain_per_s: 150, raw_drain_per_s: 100 });
    expect(bus.map((r) => r.bench)).toEqual(bus.map(() => 'bus'));
    expect(bus.find((r) => r.id === 'drain_vs_raw')).toMatchObject({ ratio: 1.5, status: 'met' });
    expect(ratiosFor('decode', {})).toEqual([]);
  });

  it('scores on one scale where 1 is the target and more is better', () => {
    expect(score(evaluate(spec(), { f: 300, d: 100 }))).toBe(2);
    expect(score(evaluate(spec({ direction: 'atMost', target: 1 }), { f: 200, d: 100 }))).toBe(0.5);
    expect(score(evaluate(spec({ direction: 'atMost', target: 0, denominator: null }), { f: 3 }))).toBe(0);
    expect(score(evaluate(spec(), {}))).toBeNull();
  });
});
