import { describe, expect, it } from 'vitest';
import { instant, type Clock } from '../../../src/cea/control/clock.js';
import { ControlEngine } from '../../../src/cea/control/engine.js';
import {
  ProgramConfigError,
  ProgramValidator,
  seedPrograms,
  type ProgramRecord,
} from '../../../src/cea/control/programs.js';
import { NO_LIMITS, config, dev } from './helpers.js';

const T0 = Date.parse('2026-06-01T10:00:00Z');

/** A clock the test moves (monotonic and wall clock together). */
function testClock(): Clock & { advance(ms: number): void } {
  let mono = 1000;
  let wall = T0;
  return {
    monoMs: () => mono,
    wallMs: () => wall,
    advance(ms: number) {
      mono += ms;
      wall += ms;
    },
  };
}

const doc = () => ({
  safety: NO_LIMITS,
  setpoints: { day_temp: { value: 24, min: 15, max: 30, unit: '°C' } },
  stages: { 'Flower Room': 'flower' },
  devices: [
    dev('lights_f', { control: { type: 'schedule', on: '06:00', off: '18:00' } }),
    dev('fan_f'),
    dev('heater_f', {
      kind: 'heater',
      safety: { ...NO_LIMITS, maxOnS: 600, minOffS: 300 },
      control: { type: 'hysteresis', sensor: 'temp_f', setpoint: 'day_temp', band: 1, action: 'raise' },
    }),
  ],
});

function rig(schedules: ProgramRecord[], rules: ProgramRecord[]) {
  const cfg = config(doc());
  const clock = testClock();
  const engine = new ControlEngine(cfg, instant(clock));
  const v = new ProgramValidator(cfg);
  const { programs, rejected } = v.compile(schedules, rules);
  expect(rejected).toEqual([]);
  engine.setPrograms(programs, instant(clock), 'test');
  const state = (name: string) => engine.status().find((d) => d.name === name)!;
  const read = (sensor: string, value: number) => engine.ingest(sensor, value, clock.monoMs());
  return { cfg, engine, clock, state, read, tick: () => engine.evaluate(instant(clock)) };
}

const rule = (id: string, config: Record<string, unknown>): ProgramRecord => ({ id, config, enabled: true });

describe('schedule and rule validation', () => {
  const v = new ProgramValidator(config(doc()));

  it('names the field of every problem', () => {
    expect(v.scheduleProblems({ type: 'lighting', device: 'lights_f', on: '25:00', off: '18:00' })).toEqual([
      { field: '/on', message: 'must be a time HH:MM' },
    ]);
    expect(v.scheduleProblems({ type: 'lighting', device: 'nope', on: '06:00', off: '06:00' })).toEqual([
      { field: '/device', message: 'no device named "nope"' },
      { field: '/off', message: 'is the same time as on' },
    ]);
    expect(v.scheduleProblems({ type: 'lighting', device: 'heater_f', on: '06:00', off: '07:00' })[0]?.field).toBe(
      '/device',
    );
    expect(
      v.scheduleProblems({ type: 'setpoint', setpoint: 'day_temp', periods: [{ from: '06:00', value: 40 }] }),
    ).toEqual([{ field: '/periods/0/value', message: 'must be within [15, 30]' }]);
    expect(v.scheduleProblems({ type: 'disco' })).toEqual([
      { field: '/type', message: 'must be "lighting" or "setpoint"' },
    ]);
    expect(v.ruleProblems({ sensor: 't', above: 1, below: 2, forMin: 5, device: 'fan_f', state: 1 })).toEqual([
      { field: '/above', message: 'give either "above" or "below"' },
    ]);
    expect(v.ruleProblems({ sensor: 't', above: 1, forMin: -1, device: 'fan_f', state: 2, extra: 1 })).toEqual(
      expect.arrayContaining([
        { field: '/forMin', message: 'must be >= 0' },
        { field: '', message: 'unknown field "extra"' },
      ]),
    );
    expect(() => v.checkRule({ sensor: 't', forMin: 1, device: 'x', state: 1 })).toThrow(ProgramConfigError);
  });

  it('skips invalid and disabled rows when compiling, and seeds lighting from the devices file', () => {
    const { programs, rejected } = v.compile(
      [
        { id: 'a', config: { type: 'lighting', device: 'lights_f', on: '05:00', off: '17:00' }, enabled: true },
        { id: 'b', config: { type: 'lighting', device: 'lights_f', on: '07:00', off: '19:00' }, enabled: true },
        { id: 'c', config: { type: 'lighting', device: 'fan_f', on: '07:00', off: '19:00' }, enabled: false },
      ],
      [rule('r', { sensor: 't', below: 3, forMin: 1, device: 'ghost', state: 1 })],
    );
    expect(programs.lighting.map((l) => l.id)).toEqual(['a']);
    expect(rejected).toHaveLength(2);
    expect(seedPrograms(config(doc())).schedules).toEqual([
      {
        id: 'lights-lights_f',
        config: { type: 'lighting', device: 'lights_f', on: '06:00', off: '18:00' },
        enabled: true,
      },
    ]);
  });
});

describe('schedules and rules in the engine', () => {
  it('a lighting schedule from the database replaces the file schedule', () => {
    const r = rig([], []);
    r.tick();
    expect(r.state('lights_f').state).toBe(1); // 10:00 UTC, file says 06:00–18:00
    const v = new ProgramValidator(r.cfg);
    const p = v.compile(
      [{ id: 'l', config: { type: 'lighting', device: 'lights_f', on: '12:00', off: '20:00' }, enabled: true }],
      [],
    );
    r.engine.setPrograms(p.programs, instant(r.clock), 'test');
    r.tick();
    expect(r.state('lights_f')).toMatchObject({ state: 0, reason: 'schedule 12:00–20:00 UTC' });
    r.clock.advance(2 * 3600_000);
    r.tick();
    expect(r.state('lights_f').state).toBe(1);
  });

  it('a setpoint follows its time-of-day schedule and the controller uses it', () => {
    const r = rig(
      [
        rule('temps', {
          type: 'setpoint',
          setpoint: 'day_temp',
          periods: [
            { from: '06:00', value: 26 },
            { from: '11:00', value: 18 },
          ],
        }),
      ],
      [],
    );
    r.clock.advance(300_000); // the heater's minOffS since the start
    r.read('temp_f', 22);
    const out = r.tick();
    expect(r.engine.setpoints().day_temp).toBe(26);
    expect(out.events.some((e) => e.type === 'setpoint' && e.by === 'schedule:temps')).toBe(true);
    expect(r.state('heater_f').state).toBe(1); // 22 < 26 − 0.5
    r.clock.advance(3300_000); // 11:00: 18 °C
    r.read('temp_f', 22);
    r.tick();
    expect(r.engine.setpoints().day_temp).toBe(18);
    expect(r.state('heater_f').state).toBe(0);
  });

  it('a setpoint by growth stage', () => {
    const r = rig(
      [rule('s', { type: 'setpoint', setpoint: 'day_temp', location: 'Flower Room', stages: { veg: 27, flower: 21 } })],
      [],
    );
    r.tick();
    expect(r.engine.setpoints().day_temp).toBe(21);
  });

  it('a rule switches its device only after its condition held for Z minutes, and lets go after', () => {
    const r = rig([], [rule('hot', { sensor: 'temp_f', above: 28, forMin: 5, device: 'fan_f', state: 1 })]);
    const feed = (value: number, minutes: number) => {
      for (let i = 0; i < minutes * 4; i++) {
        r.clock.advance(15_000);
        r.read('temp_f', value);
        r.tick();
      }
    };
    feed(29, 4.5);
    expect(r.state('fan_f').state).toBe(0);
    feed(27, 0.25); // dips below: the timer starts again
    feed(29, 4.75);
    expect(r.state('fan_f').state).toBe(0);
    feed(29, 0.5);
    expect(r.state('fan_f')).toMatchObject({ state: 1, reason: 'rule hot: temp_f above 28 for 5 min' });
    feed(27, 0.25);
    expect(r.state('fan_f').state).toBe(0); // no controller: back to its safe state
  });

  it('a rule cannot hold a heater on past its maxOnS, nor switch it in manual mode', () => {
    const r = rig([], [rule('cold', { sensor: 'temp_f', below: 50, forMin: 1, device: 'heater_f', state: 1 })]);
    let onFor = 0;
    let longest = 0;
    for (let i = 0; i < 120; i++) {
      r.clock.advance(15_000);
      r.read('temp_f', 29); // above the hysteresis setpoint: only the rule wants it on
      r.tick();
      onFor = r.state('heater_f').state === 1 ? onFor + 15_000 : 0;
      longest = Math.max(longest, onFor);
    }
    expect(longest).toBeGreaterThan(0);
    expect(longest).toBeLessThanOrEqual(600_000);
    r.engine.command({ device: 'heater_f', mode: 'off', by: 'op' }, instant(r.clock));
    r.clock.advance(15_000);
    r.read('temp_f', 29);
    r.tick();
    expect(r.state('heater_f')).toMatchObject({ state: 0, mode: 'off' });
  });

  it('a stale sensor releases the rule (the failsafe wins)', () => {
    const r = rig([], [rule('cold', { sensor: 'temp_f', below: 50, forMin: 0, device: 'heater_f', state: 1 })]);
    r.clock.advance(300_000);
    r.read('temp_f', 29);
    r.tick();
    expect(r.state('heater_f').state).toBe(1);
    r.clock.advance(31_000);
    r.tick();
    expect(r.state('heater_f').state).toBe(0);
  });
});
