import { describe, expect, it } from 'vitest';
import { hysteresis, pidStep, type PidState } from '../../../src/cea/control/controllers.js';
import { at } from '../../../src/cea/control/clock.js';
import { ControlEngine } from '../../../src/cea/control/engine.js';
import { leafVpdKpa } from '../../../src/cea/control/vpd.js';
import { NO_LIMITS, config, dev } from './helpers.js';

const T0 = Date.parse('2026-06-01T10:00:00Z');

/** An engine on a clock the test moves. */
function rig(doc: Record<string, unknown>) {
  const engine = new ControlEngine(config({ safety: NO_LIMITS, ...doc }), at(T0));
  let now = T0;
  const state = (name: string) => engine.status().find((d) => d.name === name)!.state;
  return {
    engine,
    state,
    at: () => now,
    advance(ms: number) {
      now += ms;
    },
    read(sensor: string, value: number) {
      engine.ingest(sensor, value, now);
      return engine.evaluate(at(now));
    },
    tick: () => engine.evaluate(at(now)),
  };
}

describe('hysteresis', () => {
  it('raise: on below the band, off above it, holds inside', () => {
    expect(hysteresis(19.4, 20, 1, 'raise', false).on).toBe(true);
    expect(hysteresis(19.6, 20, 1, 'raise', false).on).toBe(false);
    expect(hysteresis(19.6, 20, 1, 'raise', true).on).toBe(true);
    expect(hysteresis(20.6, 20, 1, 'raise', true).on).toBe(false);
    expect(hysteresis(20.6, 20, 1, 'lower', false).on).toBe(true);
    expect(hysteresis(19.4, 20, 1, 'lower', true).on).toBe(false);
  });

  it('drives a heater around its setpoint without chattering inside the band', () => {
    const r = rig({
      setpoints: { temp_f: { value: 22, min: 10, max: 30 } },
      devices: [
        dev('heater_f', {
          control: { type: 'hysteresis', sensor: 'dry_bulb_f', setpoint: 'temp_f', band: 1, action: 'raise' },
        }),
      ],
    });
    const seq = [21.0, 21.6, 22.0, 22.4, 22.6, 22.2, 21.7, 21.4, 21.9];
    const states = seq.map((v) => {
      r.advance(1000);
      r.read('dry_bulb_f', v);
      return r.state('heater_f');
    });
    expect(states).toEqual([1, 1, 1, 1, 0, 0, 0, 1, 1]);
    // a setpoint change moves the band
    const res = r.engine.setSetpoint({ setpoint: 'temp_f', value: 20, by: 'op' }, at(r.at()));
    expect(res.ok).toBe(true);
    r.advance(1000);
    r.read('dry_bulb_f', 21.0);
    expect(r.state('heater_f')).toBe(0);
    expect(r.engine.setSetpoint({ setpoint: 'temp_f', value: 50, by: 'op' }, at(r.at()))).toMatchObject({ ok: false });
  });
});

describe('conditions', () => {
  const doc = {
    devices: [
      dev('lights_f', { kind: 'lights', control: { type: 'schedule', on: '06:00', off: '18:00' } }),
      dev('co2_f', {
        kind: 'co2_valve',
        safety: { maxOnS: 86_400 },
        control: {
          type: 'hysteresis',
          sensor: 'co2_ppm_f',
          setpoint: 1200,
          band: 100,
          action: 'raise',
          when: [
            { device: 'lights_f', state: 1 },
            { sensor: 'dry_bulb_f', below: 30 },
          ],
        },
      }),
    ],
  };

  it('CO2 is dosed only while the lights are on and the room is not too hot', () => {
    const r = rig({ timeZone: 'UTC', ...doc });
    r.engine.ingest('dry_bulb_f', 25, r.at());
    r.read('co2_ppm_f', 800);
    expect(r.state('lights_f')).toBe(1); // 10:00 UTC
    expect(r.state('co2_f')).toBe(1);
    r.engine.ingest('dry_bulb_f', 31, r.at());
    r.read('co2_ppm_f', 800);
    expect(r.state('co2_f')).toBe(0);
    expect(r.engine.status().find((d) => d.name === 'co2_f')!.reason).toMatch(/dry_bulb_f 31 is not below 30/);
    r.engine.ingest('dry_bulb_f', 25, r.at());
    r.read('co2_ppm_f', 800);
    expect(r.state('co2_f')).toBe(1);
    // 18:00: lights off — the valve closes in the same evaluation
    r.advance(8 * 3_600_000);
    r.engine.ingest('dry_bulb_f', 25, r.at());
    const { changes } = r.read('co2_ppm_f', 800);
    expect(changes.map((c) => [c.device, c.to])).toEqual([
      ['lights_f', 0],
      ['co2_f', 0],
    ]);
    expect(changes[1]!.reason).toBe('condition: lights_f is off');
  });
});

describe('VPD control', () => {
  it('computes leaf VPD with a leaf offset', () => {
    expect(leafVpdKpa(25, 60, 0)).toBeCloseTo(1.267, 2);
    expect(leafVpdKpa(25, 60, -2)).toBeCloseTo(0.909, 2);
  });

  it('humidifies when leaf VPD is above the day target and uses the night target without lights', () => {
    const r = rig({
      timeZone: 'UTC',
      stages: { 'Flower Room': 'flower' },
      setpoints: { vpd_flower_day: { value: 1.2 } },
      devices: [
        dev('lights_f', { kind: 'lights', control: { type: 'schedule', on: '06:00', off: '18:00' } }),
        dev('humidifier_f', {
          kind: 'humidifier',
          safety: { maxOnS: 86_400 },
          control: {
            type: 'vpd',
            temp: 'dry_bulb_f',
            rh: 'rh_f',
            leafOffsetC: -2,
            day: { device: 'lights_f' },
            targets: { veg: { day: 0.9, night: 0.7 }, flower: { day: 'vpd_flower_day', night: 0.6 } },
            band: 0.1,
            action: 'lower',
          },
        }),
      ],
    });
    r.engine.ingest('dry_bulb_f', 26, r.at());
    r.read('rh_f', 45); // leaf VPD ≈ 1.38 > 1.25
    expect(r.state('humidifier_f')).toBe(1);
    r.engine.ingest('dry_bulb_f', 26, r.at());
    r.read('rh_f', 60); // ≈ 0.88 < 1.15
    expect(r.state('humidifier_f')).toBe(0);
    r.advance(9 * 3_600_000); // 19:00, night target 0.6
    r.engine.ingest('dry_bulb_f', 26, r.at());
    r.read('rh_f', 60);
    expect(r.state('lights_f')).toBe(0);
    expect(r.state('humidifier_f')).toBe(1);
    expect(r.engine.status().find((d) => d.name === 'humidifier_f')!.reason).toMatch(/flower night target 0.6/);
  });
});

describe('time-proportioning PID', () => {
  const spec = { kp: 0.5, ki: 0.01, kd: 0, windowS: 100, action: 'raise' as const };

  it('is on for duty × window at the start of each window, integral growing and clamped', () => {
    const s: PidState = { integral: 0, prevError: undefined, windowStart: undefined, duty: 0 };
    const t0 = 1_000_000;
    const onMs: number[] = [];
    for (let w = 0; w < 4; w++) {
      let on = 0;
      for (let t = 0; t < 100_000; t += 1000) if (pidStep(s, spec, 19, 20, t0 + w * 100_000 + t).on) on += 1000;
      onMs.push(on);
    }
    // error 1 → P 0.5, integral +100 per window → I +1 … clamped to 1/ki: duty 0.5+1 → 1
    expect(onMs[0]).toBe(100_000);
    const s2: PidState = { integral: 0, prevError: undefined, windowStart: undefined, duty: 0 };
    const p = { ...spec, ki: 0.001 };
    const duties = [0, 1, 2].map((w) => pidStep(s2, p, 19.5, 20, t0 + w * 100_000).duty);
    expect(duties[0]).toBeCloseTo(0.25 + 0.05, 5);
    expect(duties[1]).toBeCloseTo(0.25 + 0.1, 5);
    expect(duties[2]).toBeCloseTo(0.25 + 0.15, 5);
    expect(pidStep(s2, p, 19.5, 20, t0 + 2 * 100_000 + 39_000).on).toBe(true);
    expect(pidStep(s2, p, 19.5, 20, t0 + 2 * 100_000 + 41_000).on).toBe(false);
    // far above setpoint: duty 0, integral never negative
    expect(pidStep(s2, p, 30, 20, t0 + 3 * 100_000).duty).toBe(0);
    expect(s2.integral).toBe(0);
  });

  it('drives a relay through the engine on a controllable clock', () => {
    const r = rig({
      devices: [
        dev('heater_v', {
          location: 'Veg Room',
          cluster: 'main',
          control: { type: 'pid', sensor: 'dry_bulb_v', setpoint: 24, kp: 0.25, windowS: 60, action: 'raise' },
        }),
      ],
    });
    const trace: number[] = [];
    for (let s = 0; s < 120; s += 5) {
      r.read('dry_bulb_v', 22); // error 2 → duty 0.5 → 30 s on per 60 s window
      trace.push(r.state('heater_v'));
      r.advance(5000);
    }
    expect(trace.slice(0, 12)).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(trace.slice(12)).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
  });
});

describe('modes', () => {
  it('manual and off override the controller; a ttl returns the device to auto', () => {
    const r = rig({
      devices: [
        dev('heater_f', { control: { type: 'hysteresis', sensor: 't', setpoint: 20, band: 1, action: 'raise' } }),
      ],
    });
    r.read('t', 25);
    expect(r.state('heater_f')).toBe(0);
    expect(
      r.engine.command({ device: 'heater_f', mode: 'manual', state: 1, ttl_s: 60, by: 'alice' }, at(r.at())).ok,
    ).toBe(true);
    let res = r.read('t', 25);
    expect(res.changes[0]).toMatchObject({ to: 1, mode: 'manual', source: 'manual', by: 'alice' });
    r.advance(59_000);
    r.read('t', 25);
    expect(r.state('heater_f')).toBe(1);
    r.advance(1000);
    res = r.read('t', 25);
    expect(res.events.map((e) => e.type)).toContain('expired');
    expect(res.changes[0]).toMatchObject({ to: 0, mode: 'auto' });
    r.engine.command({ device: 'heater_f', mode: 'off', by: 'bob' }, at(r.at()));
    res = r.read('t', 10);
    expect(r.state('heater_f')).toBe(0);
    expect(res.changes[0]).toMatchObject({ from: 0, to: 0, fromMode: 'auto', mode: 'off', source: 'mode', by: 'bob' });
    expect(r.engine.command({ device: 'nope', mode: 'off', by: 'bob' }, at(r.at()))).toMatchObject({ ok: false });
  });
});

describe('stale-data failsafe', () => {
  it('drives the device to its safe state with an event saying why, and resumes when data returns', () => {
    const r = rig({
      devices: [
        dev('heater_f', {
          safety: { staleAfterS: 10 },
          control: { type: 'hysteresis', sensor: 't', setpoint: 20, band: 1, action: 'raise' },
        }),
        dev('fan_f', {
          kind: 'exhaust_fan',
          safeState: 1,
          safety: { staleAfterS: 10 },
          control: { type: 'hysteresis', sensor: 't', setpoint: 28, band: 1, action: 'lower' },
        }),
      ],
    });
    r.read('t', 15);
    expect([r.state('heater_f'), r.state('fan_f')]).toEqual([1, 0]);
    r.advance(10_000);
    expect(r.tick().changes).toEqual([]);
    r.advance(1);
    const res = r.tick();
    expect(res.changes.map((c) => [c.device, c.to, c.source])).toEqual([
      ['heater_f', 0, 'failsafe'],
      ['fan_f', 1, 'failsafe'],
    ]);
    expect(res.events.filter((e) => e.type === 'failsafe').map((e) => e.message)[0]).toMatch(
      /t is stale .* limit 10 s/,
    );
    r.advance(1000);
    expect(r.tick().events).toEqual([]); // the event is said once
    const back = r.read('t', 15);
    expect(back.events.map((e) => e.type)).toEqual(['recovered', 'recovered']);
    expect(r.state('heater_f')).toBe(1);
  });

  it('holds the safe state silently until the first reading, then fails safe loudly after the limit', () => {
    const r = rig({
      devices: [
        dev('heater_f', {
          safety: { staleAfterS: 5 },
          control: { type: 'hysteresis', sensor: 't', setpoint: 20, band: 1, action: 'raise' },
        }),
      ],
    });
    expect(r.tick().events).toEqual([]);
    r.advance(6000);
    expect(r.tick().events[0]).toMatchObject({ type: 'failsafe', device: 'heater_f' });
    expect(r.engine.status()[0]!.failsafe).toBe(true);
  });
});

describe('snapshot and restore', () => {
  it('restores modes, manual states and setpoints into a fresh engine', () => {
    const doc = {
      setpoints: { sp: { value: 20 } },
      devices: [
        dev('a', { control: { type: 'hysteresis', sensor: 't', setpoint: 'sp', band: 1, action: 'raise' } }),
        dev('b'),
      ],
    };
    const r = rig(doc);
    r.engine.command({ device: 'b', mode: 'manual', state: 1, by: 'carol' }, at(r.at()));
    r.engine.setSetpoint({ setpoint: 'sp', value: 23, by: 'carol' }, at(r.at()));
    r.tick();
    const snap = JSON.parse(JSON.stringify(r.engine.snapshot()));
    const fresh = new ControlEngine(config({ safety: NO_LIMITS, ...doc }), at(r.at() + 1000));
    expect(fresh.status().map((d) => d.state)).toEqual([0, 0]);
    const ev = fresh.restore(snap, at(r.at() + 1000));
    expect(ev.map((e) => e.type)).toEqual(['restored', 'restored']);
    const { changes } = fresh.evaluate(at(r.at() + 1000));
    expect(changes.find((c) => c.device === 'b')).toMatchObject({ to: 1, mode: 'manual', by: 'carol' });
    expect(fresh.setpoints()).toEqual({ sp: 23 });
  });
});
