import { describe, expect, it } from 'vitest';
import type { Instant } from '../../../src/cea/control/clock.js';
import { ControlEngine } from '../../../src/cea/control/engine.js';
import { NO_LIMITS, config, dev } from './helpers.js';

const T0 = Date.parse('2026-06-01T10:00:00Z'); // 12:00 in Berlin: lights on by schedule

/** The engine's time, moved by the test (monotonic and wall clock together). */
function timeline() {
  let mono = 1000;
  let wall = T0;
  return {
    now: (): Instant => ({ mono, wall }),
    advance(ms: number) {
      mono += ms;
      wall += ms;
    },
  };
}

const vpd = (extra: Record<string, unknown> = {}) => ({
  type: 'vpd',
  temp: 'temp_f',
  rh: 'rh_f',
  targets: { veg: { day: 0.9, night: 0.7 }, flower: { day: 1.2, night: 1.0 } },
  band: 0.05,
  action: 'raise',
  day: { on: '06:00', off: '18:00' },
  ...extra,
});

const doc = () => ({
  timeZone: 'Europe/Berlin',
  safety: NO_LIMITS,
  stages: { 'Flower Room': 'flower' },
  rooms: { 'Flower Room': { maxTemp: 30 } },
  manual: { defaultExpiryS: 3600, maxExpiryS: 7200 },
  exclusive: [['humidifier_f', 'dehumidifier_f']],
  devices: [
    dev('lights_f', {
      kind: 'lights',
      label: 'Lights (front)',
      control: { type: 'schedule', on: '06:00', off: '18:00' },
    }),
    dev('heater_f', {
      kind: 'heater',
      label: 'Heater (front)',
      safety: { ...NO_LIMITS, maxOnS: 3600, minOffS: 200 },
      control: { type: 'hysteresis', sensor: 'temp_f', setpoint: 22, band: 1, action: 'raise' },
    }),
    dev('dehumidifier_f', { kind: 'dehumidifier', control: vpd() }),
    dev('humidifier_f', { kind: 'humidifier', safety: { ...NO_LIMITS, maxOnS: 3600 }, mode: 'manual' }),
    dev('fan_f', {
      kind: 'exhaust_fan',
      safeState: 1,
      control: { type: 'hysteresis', sensor: 'fan_temp', setpoint: 28, band: 1, action: 'lower' },
    }),
  ],
});

function setup() {
  const t = timeline();
  const engine = new ControlEngine(config(doc()), t.now());
  const feed = (temp: number, rh = 60) => {
    engine.ingest('temp_f', temp, t.now().mono);
    engine.ingest('rh_f', rh, t.now().mono);
  };
  const status = (name: string) => engine.status().find((d) => d.name === name)!;
  return { t, engine, feed, status };
}

describe('what a device update says beside the state', () => {
  it('label, since, source of a schedule and of a controller, and no hold-back or expiry in auto', () => {
    const { t, engine, feed } = setup();
    feed(25);
    t.advance(1000);
    const r = engine.evaluate(t.now());
    const lights = r.changes.find((c) => c.device === 'lights_f')!;
    expect(lights.detail).toMatchObject({ label: 'Lights (front)', source: 'schedule', expiresAt: null, held: null });
    expect(lights.detail!.since).toBe(t.now().wall);
    // the heater stays off (its safe state), now because of its controller, and says so
    expect(engine.status().find((d) => d.name === 'heater_f')).toMatchObject({
      label: 'Heater (front)',
      source: 'rule',
    });
    expect(r.notices?.find((n) => n.device === 'heater_f')).toMatchObject({
      state: 0,
      reason: 'temp_f 25 > 22.5 (setpoint 22)',
    });
    t.advance(200_000); // past the heater's min off time from the start
    feed(20);
    const r2 = engine.evaluate(t.now());
    expect(r2.changes.find((c) => c.device === 'heater_f')!.detail).toMatchObject({ source: 'rule', held: null });
  });

  it('a new reason for keeping a state is told: at once when what decides changed, else at most once a minute, never for new numbers', () => {
    const { t, engine, feed } = setup();
    const heaterNotices = (r: ReturnType<typeof engine.evaluate>) =>
      (r.notices ?? []).filter((n) => n.device === 'heater_f').map((n) => n.reason);
    feed(25);
    t.advance(1000);
    // startup's safe state → the controller keeps it off: told at once
    expect(heaterNotices(engine.evaluate(t.now()))).toEqual(['temp_f 25 > 22.5 (setpoint 22)']);
    // only the numbers change: nothing to tell
    feed(26);
    t.advance(1000);
    expect(heaterNotices(engine.evaluate(t.now()))).toEqual([]);
    // inside the band, holding off: a new reason from the same controller waits for the minute
    feed(22);
    t.advance(1000);
    expect(heaterNotices(engine.evaluate(t.now()))).toEqual([]);
    t.advance(60_000);
    feed(22);
    expect(heaterNotices(engine.evaluate(t.now()))).toEqual(['temp_f 22 within 21.5–22.5, holding (setpoint 22)']);
    expect(engine.status().find((d) => d.name === 'heater_f')).toMatchObject({ state: 0, source: 'rule' });
  });

  it('a manual on held back by min off says what it wants, until when and why; then it is applied with its expiry', () => {
    const { t, engine, feed, status } = setup();
    feed(25);
    t.advance(10_000);
    engine.evaluate(t.now());
    const asked = t.now();
    expect(engine.command({ device: 'heater_f', mode: 'manual', state: 1, by: 'op' }, asked).ok).toBe(true);
    const r = engine.evaluate(asked, ['heater_f']);
    const answer = engine.answer('heater_f', '1-0', asked)!;
    expect(answer).toMatchObject({ id: '1-0', outcome: 'held' });
    expect(answer.reason).toMatch(/^manual ON held back: min off, 3 min 10 s left$/);
    const held = status('heater_f').held!;
    expect(held).toEqual({ want: 1, until: asked.wall + 190_000, why: 'min off' });
    const notice = r.notices!.find((n) => n.device === 'heater_f')!;
    expect(notice.reason).toMatch(/on held back: min off/);
    expect(notice.detail?.held?.until).toBe(asked.wall + 190_000);
    expect(r.changes.find((c) => c.device === 'heater_f')!.detail).toMatchObject({
      source: 'manual',
      expiresAt: asked.wall + 3_600_000,
    });
    t.advance(190_000);
    feed(25); // fresh data: the heater's sensor is watched in manual mode too
    const r2 = engine.evaluate(t.now());
    const on = r2.changes.find((c) => c.device === 'heater_f')!;
    expect(on).toMatchObject({ to: 1, source: 'manual' });
    expect(on.detail).toMatchObject({ held: null, since: t.now().wall, expiresAt: asked.wall + 3_600_000 });
    expect(engine.answer('heater_f', '2-0')).toMatchObject({ outcome: 'applied' });
  });

  it('a hold-back that ends without a switch is told (the controller no longer asks)', () => {
    const { t, engine, feed } = setup();
    feed(20);
    t.advance(1000);
    const r = engine.evaluate(t.now());
    expect(r.notices!.some((n) => n.device === 'heater_f' && n.detail?.held?.want === 1)).toBe(true);
    feed(25);
    t.advance(1000);
    const r2 = engine.evaluate(t.now());
    const n = r2.notices!.find((x) => x.device === 'heater_f')!;
    expect(n.detail!.held).toBeNull();
    expect(n.state).toBe(0);
  });

  it('refuses a manual on while an exclusive partner is on, and over the room hard limit', () => {
    const { t, engine, feed, status } = setup();
    feed(25);
    expect(engine.command({ device: 'humidifier_f', mode: 'manual', state: 1, by: 'op' }, t.now()).ok).toBe(true);
    engine.evaluate(t.now());
    expect(status('humidifier_f').state).toBe(1);
    const r = engine.command({ device: 'dehumidifier_f', mode: 'manual', state: 1, by: 'op' }, t.now());
    expect(r).toEqual({ ok: false, error: expect.stringContaining('humidifier_f) is on and never runs together') });
    feed(31);
    const h = engine.command({ device: 'heater_f', mode: 'manual', state: 1, by: 'op' }, t.now());
    expect(h).toEqual({ ok: false, error: expect.stringMatching(/^hard limit: temp_f 31 above/) });
    expect(status('heater_f').mode).toBe('auto');
    // turning off is never refused
    expect(engine.command({ device: 'heater_f', mode: 'off', by: 'op' }, t.now()).ok).toBe(true);
  });

  it('failsafe is the source when sensor data goes stale', () => {
    const { t, engine, feed, status } = setup();
    feed(20);
    t.advance(1000);
    engine.evaluate(t.now());
    t.advance(200_000);
    feed(20);
    engine.evaluate(t.now());
    expect(status('heater_f')).toMatchObject({ state: 1, source: 'rule' });
    t.advance(31_000);
    const r = engine.evaluate(t.now());
    expect(r.changes.find((c) => c.device === 'heater_f')).toMatchObject({ to: 0, source: 'failsafe' });
    expect(status('heater_f').source).toBe('failsafe');
  });

  it('a failsafe that changes nothing (already in its safe state) is still told, and its end too', () => {
    const { t, engine, status } = setup();
    t.advance(31_000); // fan_temp never heard from
    const r = engine.evaluate(t.now());
    expect(r.changes.find((c) => c.device === 'fan_f')).toBeUndefined();
    const n = r.notices!.find((x) => x.device === 'fan_f')!;
    expect(n).toMatchObject({ state: 1, reason: expect.stringMatching(/^failsafe: no reading of fan_temp/) });
    expect(n.detail!.source).toBe('failsafe');
    expect(status('fan_f')).toMatchObject({ source: 'failsafe', failsafe: true });
    engine.ingest('fan_temp', 30, t.now().mono);
    const r2 = engine.evaluate(t.now());
    const back = [...r2.changes, ...r2.notices!].find((x) => x.device === 'fan_f')!;
    expect(back.detail!.source).not.toBe('failsafe');
    expect(status('fan_f').failsafe).toBe(false);
  });
});

describe('grow cycle', () => {
  it('a cycle stage the VPD controllers have targets for replaces the configured stage; others are refused', () => {
    const { t, engine, feed } = setup();
    feed(24, 70);
    t.advance(1000);
    engine.evaluate(t.now());
    expect(engine.status().find((d) => d.name === 'dehumidifier_f')!.reason).toMatch(/flower day target 1\.2/);
    const bad = engine.setCycle(
      { cycle: { location: 'Flower Room', stage: 'clone', start: '2026-05-01' }, by: 'op' },
      t.now(),
    );
    expect(bad).toEqual({ ok: false, error: expect.stringContaining('stage "clone" has no VPD targets') });
    const nowhere = engine.setCycle(
      { cycle: { location: 'Attic', stage: 'veg', start: '2026-05-01' }, by: 'op' },
      t.now(),
    );
    expect(nowhere.ok).toBe(false);
    const badDate = engine.setCycle(
      { cycle: { location: 'Flower Room', stage: 'veg', start: '2026-02-30' }, by: 'op' },
      t.now(),
    );
    expect(badDate.ok).toBe(false);
    const ok = engine.setCycle(
      { cycle: { location: 'Flower Room', stage: 'veg', start: '2026-05-01' }, by: 'op' },
      t.now(),
    );
    expect(ok).toMatchObject({ ok: true, event: { type: 'cycle', message: 'Flower Room: veg since 2026-05-01' } });
    expect(engine.stageOf('Flower Room')).toBe('veg');
    // leaf VPD at 24 °C / 70 % with no offset is about 0.9: the veg target 0.9 is now what it is compared with
    feed(24, 50);
    t.advance(1000);
    engine.evaluate(t.now());
    expect(engine.status().find((d) => d.name === 'dehumidifier_f')!.reason).toMatch(/veg day target 0\.9/);
    const snap = engine.snapshot(t.now());
    expect(snap.cycles).toEqual({
      'Flower Room': { stage: 'veg', start: '2026-05-01', by: 'op', at: expect.any(String) },
    });
    const again = new ControlEngine(config(doc()), t.now());
    again.restore(
      { ...snap, cycles: { ...snap.cycles, Attic: { stage: 'x', start: '2026-01-01', by: 'a', at: '' } } },
      t.now(),
    );
    expect(again.stageOf('Flower Room')).toBe('veg');
    expect(again.stageOf('Attic')).toBeUndefined();
  });
});
