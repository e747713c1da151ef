import { describe, expect, it } from 'vitest';
import { readsOf, type ReadsHealth } from '../../web/src/services.js';

const replica = (up: boolean, lagMs: number | null): ReadsHealth['replica'] => ({
  server: 'db:5433/canopy',
  up,
  lagMs,
});

describe('the services panel line on history reads', () => {
  it('nothing without a replica', () => {
    expect(readsOf(undefined)).toBeUndefined();
    expect(readsOf({ target: 'primary', fallbacks: 0, replica: null })).toBeUndefined();
  });

  it('the replica and its lag, in ms under a second', () => {
    expect(readsOf({ target: 'replica', fallbacks: 0, replica: replica(true, 120) })).toEqual({
      text: 'History from the replica (120 ms behind)',
      ok: true,
    });
    expect(readsOf({ target: 'replica', fallbacks: 0, replica: replica(true, 95_000) })?.text).toBe(
      'History from the replica (2 min behind)',
    );
    expect(readsOf({ target: 'replica', fallbacks: 2, replica: replica(true, null) })?.text).toBe(
      'History from the replica (lag unknown) · 2 reads fell back to the primary',
    );
  });

  it('a replica down is not ok, with the fallbacks counted', () => {
    expect(readsOf({ target: 'replica', fallbacks: 7, replica: replica(false, null) })).toEqual({
      text: 'History replica down: reads from the primary · 7 reads fell back to the primary',
      ok: false,
    });
  });
});
