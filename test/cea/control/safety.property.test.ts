import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Instant } from '../../../src/cea/control/clock.js';
import type { ControlConfig, DeviceConfig } from '../../../src/cea/control/config.js';
import { ControlEngine } from '../../../src/cea/control/engine.js';
import { NO_UNTIL_CHANGED } from '../../../src/cea/control/limits.js';
import { config, dev } from './helpers.js';

/**
 * For random safety limits and random sequences of readings (fresh, absurd,
 * stamped in the past or the future), commands (any mode, state, ttl,
 * "until changed", unknown devices), monotonic time passing and steps of
 * the wall clock (±1 h, ±1 day, random; the monotonic clock only moves
 * forward), the invariants hold after every evaluation: min on/off, max on,
 * mutual exclusion (also in the order changes are applied), the switch-on
 * limit, the stale-data failsafe in every mode, the hard limits, and manual
 * expiry on the monotonic clock.
 */
const limitsArb = fc.record({
  minOnS: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 120 })),
  minOffS: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 120 })),
  maxOnS: fc.oneof(fc.constant(0), fc.integer({ min: 120, max: 900 })),
  maxStarts: fc.integer({ min: 0, max: 3 }),
  windowS: fc.integer({ min: 60, max: 1800 }),
  staleAfterS: fc.integer({ min: 5, max: 120 }),
});

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DEVICES = ['humidifier', 'dehumidifier', 'fan', 'heater', 'co2'] as const;

const stepArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('reading' as const),
      sensor: fc.constantFrom('t', 't', 'rh', 'rh', 'co2', 'unknown'),
      value: fc.oneof(
        fc.double({ min: 10, max: 90, noNaN: true }),
        fc.double({ min: 300, max: 2500, noNaN: true }),
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.constant(Number.NaN),
      ),
      /** The sample's own timestamp relative to our wall clock: now, past, or far in the future. */
      stampS: fc.oneof(fc.constant(0), fc.integer({ min: -300, max: 0 }), fc.integer({ min: 0, max: 86_400 })),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      device: fc.constantFrom(...DEVICES, 'ghost'),
      mode: fc.constantFrom('manual' as const, 'manual' as const, 'manual' as const, 'auto' as const, 'off' as const),
      state: fc.constantFrom(0 as const, 1 as const),
      ttl: fc.option(fc.integer({ min: 1, max: 600 }), { nil: undefined }),
      untilChanged: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('mono' as const),
      ms: fc.oneof(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 400_000 }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('wallStep' as const),
      ms: fc.oneof(fc.constantFrom(HOUR, -HOUR, DAY, -DAY), fc.integer({ min: -2 * DAY, max: 2 * DAY })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const) }) },
);

type Limits = typeof limitsArb extends fc.Arbitrary<infer T> ? T : never;
const doc = (): Record<string, unknown> => ({
  exclusive: [['humidifier', 'dehumidifier']],
  rooms: { 'Flower Room': { maxTemp: 30, co2Ceiling: 1500 } },
  manual: { defaultExpiryS: 300, maxExpiryS: 3600 },
  devices: [
    dev('humidifier', {
      kind: 'humidifier',
      safety: { maxOnS: 600 },
      control: { type: 'hysteresis', sensor: 'rh', setpoint: 60, band: 4, action: 'raise' },
    }),
    dev('dehumidifier', {
      kind: 'dehumidifier',
      control: { type: 'hysteresis', sensor: 'rh', setpoint: 62, band: 4, action: 'lower' },
    }),
    dev('fan', {
      kind: 'exhaust_fan',
      safeState: 1,
      control: { type: 'hysteresis', sensor: 't', setpoint: 28, band: 1, action: 'lower' },
    }),
    dev('heater', {
      kind: 'heater',
      safety: { maxOnS: 600 },
      control: {
        type: 'pid',
        sensor: 't',
        setpoint: 22,
        kp: 0.4,
        ki: 0.01,
        windowS: 60,
        action: 'raise',
        when: [{ sensor: 'co2', below: 5000 }],
      },
    }),
    dev('co2', {
      kind: 'co2_valve',
      safety: { maxOnS: 600 },
      control: { type: 'hysteresis', sensor: 'co2', setpoint: 1000, band: 100, action: 'raise' },
    }),
  ],
});

/** The validated config with each device's limits replaced (validating per run would dominate the run time). */
function withLimits(base: ControlConfig, lims: Limits[]): ControlConfig {
  const cfg = structuredClone(base);
  cfg.devices.forEach((d, i) => {
    const l = lims[i]!;
    const mustLimit = ['heater', 'humidifier', 'co2_valve'].includes(d.kind);
    d.safety = {
      minOnMs: l.minOnS * 1000,
      minOffMs: l.minOffS * 1000,
      maxOnMs: d.safeState === 1 ? 0 : (mustLimit ? Math.max(120, l.maxOnS) : l.maxOnS) * 1000,
      maxStarts: l.maxStarts,
      windowMs: l.windowS * 1000,
      staleAfterMs: l.staleAfterS * 1000,
    };
  });
  return cfg;
}

describe('safety invariants (property-based)', () => {
  const base = config(doc());

  it('the hard limits and safety sensors come from the configuration', () => {
    const byName = new Map(base.devices.map((d) => [d.name, d]));
    expect(byName.get('heater')!.hardLimit).toMatchObject({ sensor: 't', above: 30 });
    expect(byName.get('co2')!.hardLimit).toMatchObject({ sensor: 'co2', above: 1500 });
    expect(byName.get('heater')!.safetySensors.sort()).toEqual(['co2', 't']);
    expect(byName.get('fan')!.safetySensors).toEqual([]);
  });

  it('hold for random readings, commands, monotonic time and wall-clock steps', () => {
    fc.assert(
      fc.property(
        fc.array(limitsArb, { minLength: 5, maxLength: 5 }),
        fc.array(stepArb, { minLength: 20, maxLength: 200, size: 'max' }),
        (lims, steps) => {
          const cfg = withLimits(base, lims);
          const byName = new Map<string, DeviceConfig>(cfg.devices.map((d) => [d.name, d]));
          let mono = 5_000_000;
          let wall = 1_700_000_000_000;
          const now = (): Instant => ({ mono, wall });
          const engine = new ControlEngine(cfg, now());
          const on = new Map(cfg.devices.map((d) => [d.name, d.safeState === 1]));
          const since = new Map(cfg.devices.map((d) => [d.name, mono]));
          const starts = new Map<string, number[]>(cfg.devices.map((d) => [d.name, []]));
          /** sensor → monotonic receipt time and value of the last reading taken. */
          const last = new Map<string, { at: number; value: number }>();
          /** device → when its current manual/off mode was granted and for how long (null: until changed). */
          const granted = new Map<string, { at: number; ttl: number | null }>();

          const stale = (d: DeviceConfig, sensors: readonly string[]) =>
            sensors.some((s) => {
              const r = last.get(s);
              return r === undefined
                ? mono - engine.startedAt > d.safety.staleAfterMs
                : mono - r.at > d.safety.staleAfterMs;
            });

          const check = () => {
            const { changes } = engine.evaluate(now());
            for (const c of changes) {
              expect(c.at).toBe(wall); // written timestamps are wall-clock
              if (c.from === c.to) continue;
              const d = byName.get(c.device)!;
              const held = mono - since.get(c.device)!;
              // min on / min off, on the monotonic clock
              if (c.from === 1) expect(held).toBeGreaterThanOrEqual(d.safety.minOnMs);
              else expect(held).toBeGreaterThanOrEqual(d.safety.minOffMs);
              on.set(c.device, c.to === 1);
              since.set(c.device, mono);
              // exclusion, in the order changes are applied
              expect(on.get('humidifier') && on.get('dehumidifier')).toBe(false);
              // switch-on limit
              if ((c.to === 1) !== (d.safeState === 1)) {
                const list = starts.get(c.device)!;
                list.push(mono);
                if (d.safety.maxStarts > 0)
                  expect(list.filter((t) => t > mono - d.safety.windowMs).length).toBeLessThanOrEqual(
                    d.safety.maxStarts,
                  );
              }
            }
            const status = new Map(engine.status().map((s) => [s.name, s]));
            for (const d of cfg.devices) {
              const st = status.get(d.name)!;
              const isOn = on.get(d.name)!;
              const held = mono - since.get(d.name)!;
              const safe = isOn === (d.safeState === 1);
              const holding = held < (isOn ? d.safety.minOnMs : d.safety.minOffMs);
              expect(st.state).toBe(isOn ? 1 : 0);
              // max on
              if (isOn && d.safety.maxOnMs > 0) expect(held).toBeLessThan(Math.max(d.safety.maxOnMs, d.safety.minOnMs));
              // stale failsafe in every mode: auto watches every sensor, the others the safety sensors
              const watched = st.mode === 'auto' && d.control ? d.sensors : d.safetySensors;
              if (stale(d, watched) && !safe) expect(holding).toBe(true);
              // hard limits, in every mode
              if (d.hardLimit && isOn) {
                const r = last.get(d.hardLimit.sensor);
                if (r && r.value > Number(d.hardLimit.above)) expect(holding).toBe(true);
              }
              // a manual or off mode never outlives what was granted, on the monotonic clock
              const g = granted.get(d.name);
              if (st.mode !== 'auto' && g && g.ttl !== null) expect(mono - g.at).toBeLessThan(g.ttl);
              if (st.mode === 'auto') granted.delete(d.name);
            }
          };

          for (const s of steps) {
            if (s.kind === 'mono') {
              mono += s.ms;
              wall += s.ms;
            } else if (s.kind === 'wallStep') wall += s.ms;
            else if (s.kind === 'reading') {
              if (engine.ingest(s.sensor, s.value, mono, wall + s.stampS * 1000))
                last.set(s.sensor, { at: mono, value: s.value });
            } else if (s.kind === 'command') {
              const cmd = {
                device: s.device,
                mode: s.mode,
                by: 'prop',
                ...(s.mode === 'manual' ? { state: s.state } : {}),
                ...(s.ttl && s.mode !== 'auto' ? { ttl_s: s.ttl } : {}),
                ...(s.untilChanged && !s.ttl && s.mode !== 'auto' ? { until_changed: true as const } : {}),
              };
              const d = byName.get(s.device);
              const manualOn = d !== undefined && cmd.mode === 'manual' && cmd.state === 1;
              // a manual on is refused while an exclusive partner is on or the room is over its hard limit
              const partnerOn =
                manualOn &&
                d.safeState === 0 &&
                d.exclusive.some((n) => engine.status().find((x) => x.name === n)?.state === 1);
              const hl = d?.hardLimit;
              const lr = hl ? engine.reading(hl.sensor) : undefined;
              const over = manualOn && d.safeState === 0 && lr !== undefined && lr.value > Number(hl!.above);
              const r = engine.command(cmd, now());
              const refused =
                partnerOn || over || (manualOn && 'until_changed' in cmd && NO_UNTIL_CHANGED.includes(d.kind));
              expect(r.ok).toBe(d !== undefined && !refused);
              if (r.ok && cmd.mode !== 'auto')
                granted.set(s.device, {
                  at: mono,
                  ttl: 'until_changed' in cmd ? null : (cmd.ttl_s ?? 300) * 1000,
                });
            }
            check();
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
