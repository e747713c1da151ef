import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ControlConfig, DeviceConfig } from '../../../src/cea/control/config.js';
import { ControlEngine } from '../../../src/cea/control/engine.js';
import { config, dev } from './helpers.js';

/**
 * For random safety limits and random sequences of readings (fresh, old,
 * absurd), commands (any mode, state and ttl, unknown devices) and clock
 * jumps, the per-relay invariants hold after every evaluation:
 * min on/off, max on, mutual exclusion (also in the order changes are
 * applied), the switch-on limit, and the stale-data failsafe.
 */
const limitsArb = fc.record({
  minOnS: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 120 })),
  minOffS: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 120 })),
  maxOnS: fc.oneof(fc.constant(0), fc.integer({ min: 120, max: 900 })),
  maxStarts: fc.integer({ min: 0, max: 3 }),
  windowS: fc.integer({ min: 60, max: 1800 }),
  staleAfterS: fc.integer({ min: 5, max: 120 }),
});

const stepArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('reading' as const),
      sensor: fc.constantFrom('t', 'rh', 'rh', 'co2', 'unknown'),
      value: fc.oneof(
        fc.double({ min: 10, max: 90, noNaN: true }),
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.constant(Number.NaN),
      ),
      ageS: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 300 }), fc.integer({ min: -5, max: 0 })),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      device: fc.constantFrom('humidifier', 'dehumidifier', 'fan', 'heater', 'ghost'),
      mode: fc.constantFrom('manual' as const, 'manual' as const, 'manual' as const, 'auto' as const, 'off' as const),
      state: fc.constantFrom(0 as const, 1 as const),
      ttl: fc.option(fc.integer({ min: 1, max: 600 }), { nil: undefined }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('jump' as const),
      ms: fc.oneof(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 400_000 }),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const) }) },
);

type Limits = fc.TypeOf<typeof limitsArb>;
const doc = (): Record<string, unknown> => {
  const [a, b, c, d] = [{}, {}, {}, {}];
  return {
    exclusive: [['humidifier', 'dehumidifier']],
    devices: [
      dev('humidifier', {
        safety: a,
        control: { type: 'hysteresis', sensor: 'rh', setpoint: 60, band: 4, action: 'raise' },
      }),
      dev('dehumidifier', {
        safety: b,
        control: { type: 'hysteresis', sensor: 'rh', setpoint: 62, band: 4, action: 'lower' },
      }),
      dev('fan', {
        safeState: 1,
        safety: c,
        control: { type: 'hysteresis', sensor: 't', setpoint: 28, band: 1, action: 'lower' },
      }),
      dev('heater', {
        safety: d,
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
    ],
  };
};

/** The validated config with each device's limits replaced (validating per run would dominate the run time). */
function withLimits(base: ControlConfig, lims: Limits[]): ControlConfig {
  const cfg = structuredClone(base);
  cfg.devices.forEach((d, i) => {
    const l = lims[i]!;
    d.safety = {
      minOnMs: l.minOnS * 1000,
      minOffMs: l.minOffS * 1000,
      maxOnMs: d.safeState === 1 ? 0 : l.maxOnS * 1000,
      maxStarts: l.maxStarts,
      windowMs: l.windowS * 1000,
      staleAfterMs: l.staleAfterS * 1000,
    };
  });
  return cfg;
}

describe('safety invariants (property-based)', () => {
  const base = config(doc());
  it('hold for random readings, commands and clock jumps', () => {
    fc.assert(
      fc.property(
        fc.array(limitsArb, { minLength: 4, maxLength: 4 }),
        fc.array(stepArb, { minLength: 20, maxLength: 200, size: 'max' }),
        (lims, steps) => {
          const cfg = withLimits(base, lims);
          const byName = new Map<string, DeviceConfig>(cfg.devices.map((d) => [d.name, d]));
          let now = 1_700_000_000_000;
          const engine = new ControlEngine(cfg, now);
          const on = new Map(cfg.devices.map((d) => [d.name, d.safeState === 1]));
          const since = new Map(cfg.devices.map((d) => [d.name, now]));
          const starts = new Map<string, number[]>(cfg.devices.map((d) => [d.name, []]));
          const lastTs = new Map<string, number>();
          const modes = new Map(cfg.devices.map((d) => [d.name, 'auto']));

          const check = () => {
            const { changes } = engine.evaluate(now);
            for (const c of changes) {
              if (c.from === c.to) {
                modes.set(c.device, c.mode);
                continue;
              }
              modes.set(c.device, c.mode);
              const d = byName.get(c.device)!;
              const held = now - since.get(c.device)!;
              // min on / min off
              if (c.from === 1) expect(held).toBeGreaterThanOrEqual(d.safety.minOnMs);
              else expect(held).toBeGreaterThanOrEqual(d.safety.minOffMs);
              on.set(c.device, c.to === 1);
              since.set(c.device, now);
              // exclusion, in the order changes are applied
              expect(on.get('humidifier') && on.get('dehumidifier')).toBe(false);
              // switch-on limit
              if ((c.to === 1) !== (d.safeState === 1)) {
                const list = starts.get(c.device)!;
                list.push(now);
                if (d.safety.maxStarts > 0)
                  expect(list.filter((t) => t > now - d.safety.windowMs).length).toBeLessThanOrEqual(
                    d.safety.maxStarts,
                  );
              }
            }
            for (const d of cfg.devices) {
              const isOn = on.get(d.name)!;
              const held = now - since.get(d.name)!;
              expect(engine.status().find((s) => s.name === d.name)!.state).toBe(isOn ? 1 : 0);
              // max on
              if (isOn && d.safety.maxOnMs > 0) expect(held).toBeLessThan(Math.max(d.safety.maxOnMs, d.safety.minOnMs));
              // failsafe: stale sensor in auto mode → safe state unless min on/off still holds the relay
              if (modes.get(d.name) === 'auto') {
                const stale = d.sensors.some((s) => {
                  const ts = lastTs.get(s);
                  return ts === undefined
                    ? now - engine.startedAt > d.safety.staleAfterMs
                    : now - ts > d.safety.staleAfterMs;
                });
                if (stale && isOn !== (d.safeState === 1))
                  expect(held).toBeLessThan(isOn ? d.safety.minOnMs : d.safety.minOffMs);
              }
            }
          };

          for (const s of steps) {
            if (s.kind === 'jump') now += s.ms;
            else if (s.kind === 'reading') {
              const ts = now - s.ageS * 1000;
              if (engine.ingest(s.sensor, s.value, ts)) lastTs.set(s.sensor, ts);
            } else if (s.kind === 'command') {
              const cmd = {
                device: s.device,
                mode: s.mode,
                by: 'prop',
                ...(s.mode === 'manual' ? { state: s.state } : {}),
                ...(s.ttl && s.mode !== 'auto' ? { ttl_s: s.ttl } : {}),
              };
              engine.command(cmd, now);
            }
            check();
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
