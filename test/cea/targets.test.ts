import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceConfigError, parseDevicesYaml } from '../../src/cea/control/config.js';
import { bandsFor, checkTargets, RH_DEFAULT, TargetsConfigError, type TargetsFile } from '../../src/cea/targets.js';

const shipped = fs.readFileSync(new URL('../../config/devices.yaml', import.meta.url), 'utf8');
const cfg = parseDevicesYaml(shipped);
const limits = {
  'Flower Room': { maxTemp: 'temp_flower_max', co2Ceiling: 2000 },
  'Veg Room': { maxTemp: 'temp_veg_max', co2Ceiling: 2000 },
};
const base = {
  cfg,
  targets: undefined,
  limits,
  location: 'Flower Room',
  cluster: 'front',
  stage: 'flower',
  setpoints: {},
  day: true,
};

describe('room targets', () => {
  it('defaults come from the controllers and the room limits', () => {
    const b = bandsFor(base);
    // heater_f: temp_flower 25 °C; the room's maxTemp temp_flower_max 29 °C
    expect(b.temperature).toEqual({ target: 25, low: 23, high: 27, alarmLow: 20, alarmHigh: 29 });
    // humidifier_f/dehumidifier_f: vpd_flower_day 1.2 kPa, band 0.1
    expect(b.vpd_leaf).toEqual({ target: 1.2, low: 1, high: 1.4, alarmLow: 0.7, alarmHigh: 1.7 });
    // co2_valve_f: co2_flower 1200 ppm, band 100; ceiling 2000
    expect(b.co2).toEqual({ target: 1200, low: 1000, high: 1400, alarmHigh: 2000 });
    expect(b.rh).toEqual(RH_DEFAULT);
  });

  it('night targets and no CO2 low band while the lights are off', () => {
    const b = bandsFor({ ...base, day: false });
    expect(b.vpd_leaf?.target).toBe(1.0);
    expect(b.co2?.low).toBeUndefined();
  });

  it('the stage selects the VPD targets; changed setpoints count', () => {
    const b = bandsFor({ ...base, stage: 'veg', setpoints: { vpd_veg_day: 0.95, temp_flower: 24 } });
    expect(b.vpd_leaf?.target).toBe(0.95);
    expect(b.temperature?.target).toBe(24);
  });

  it('a targets: block overrides field by field, setpoint names allowed', () => {
    const targets: TargetsFile = {
      'Flower Room': { flower: { rh: { low: 45, high: 60 }, temperature: { alarmHigh: 'temp_flower_max', high: 26 } } },
    };
    const b = bandsFor({ ...base, targets });
    expect(b.rh).toEqual({ ...RH_DEFAULT, low: 45, high: 60 });
    expect(b.temperature).toMatchObject({ target: 25, high: 26, alarmHigh: 29 });
    // another stage of the room keeps the defaults
    expect(bandsFor({ ...base, targets, stage: 'veg' }).rh).toEqual(RH_DEFAULT);
  });

  it('a heater of another sensor (the lab water heater) gives no air temperature band', () => {
    const lab = { ...base, location: 'Lab', cluster: 'main', stage: undefined };
    expect(bandsFor({ ...lab, temperatureSensor: 'lab_temp' })).toEqual({ rh: RH_DEFAULT });
    expect(bandsFor({ ...base, temperatureSensor: 'dry_bulb_f' }).temperature?.target).toBe(25);
  });

  it('checkTargets names unknown setpoints and bands in the wrong order', () => {
    const bad: TargetsFile = {
      'Flower Room': { flower: { rh: { low: 70, high: 60 }, co2: { target: 'co2_nope' } } },
    };
    try {
      checkTargets(bad, cfg, 'devices.yaml');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TargetsConfigError);
      const e = err as TargetsConfigError;
      expect(e.code).toBe('TARGETS_CONFIG');
      expect(e.problems).toEqual([
        'targets["Flower Room"].flower.rh: low (70) is above high (60)',
        'targets["Flower Room"].flower.co2.target names unknown setpoint "co2_nope"',
      ]);
    }
    expect(() => checkTargets({ 'Veg Room': { veg: { rh: { low: 40, high: 60 } } } }, cfg)).not.toThrow();
  });

  it('the devices file accepts targets: and energy:, and refuses a misspelt field', () => {
    const ok = `${shipped}\ntargets:\n  Veg Room:\n    veg:\n      rh: { low: 50, high: 65 }\nenergy: { pricePerKwh: 0.3, currency: EUR }\n`;
    expect(() => parseDevicesYaml(ok)).not.toThrow();
    const bad = `${shipped}\ntargets:\n  Veg Room:\n    veg:\n      rh: { lo: 50 }\n`;
    expect(() => parseDevicesYaml(bad)).toThrow(DeviceConfigError);
  });
});
