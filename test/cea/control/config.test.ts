import { describe, expect, it } from 'vitest';
import { DeviceConfigError, parseDevicesYaml } from '../../../src/cea/control/config.js';
import { CommandParser } from '../../../src/cea/control/commands.js';

function problems(yaml: string): string[] {
  try {
    parseDevicesYaml(yaml, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(DeviceConfigError);
    expect((err as DeviceConfigError).code).toBe('CONTROL_CONFIG');
    return (err as DeviceConfigError).problems;
  }
  throw new Error('expected a DeviceConfigError');
}

const base = `
timeZone: Europe/Berlin
devices:
  - name: heater_f
    location: Flower Room
    cluster: front
    kind: heater
    output: { address: 0x20, port: A, pin: 0, activeLow: true }
    safeState: 0
    wattage: 1500
    safety: { maxOnS: 7200 }
    control: { type: hysteresis, sensor: dry_bulb_f, setpoint: 22, band: 1, action: raise }
`;

describe('devices file validation', () => {
  it('accepts a valid file, fills in defaults and reads hex addresses', () => {
    const c = parseDevicesYaml(base);
    expect(c.timeZone).toBe('Europe/Berlin');
    expect(c.devices[0]).toMatchObject({
      name: 'heater_f',
      output: { address: 0x20, port: 'A', pin: 0, activeLow: true },
      initialMode: 'auto',
      sensors: ['dry_bulb_f'],
      wattage: 1500,
      safety: {
        minOnMs: 30_000,
        minOffMs: 30_000,
        maxOnMs: 7_200_000,
        maxStarts: 30,
        windowMs: 3_600_000,
        staleAfterMs: 30_000,
      },
    });
  });

  it('names the device and field of each schema problem', () => {
    const p = problems(
      base.replace('address: 0x20', 'address: 0x28').replace('pin: 0', 'pin: 9').replace('port: A', 'port: C'),
    );
    expect(p.join('\n')).toMatch(/devices\[0\] \(heater_f\)\.output\.address must be <= 39/);
    expect(p.join('\n')).toMatch(/devices\[0\] \(heater_f\)\.output\.pin must be <= 7/);
    expect(p.join('\n')).toMatch(/devices\[0\] \(heater_f\)\.output\.port is none of the accepted forms/);
    expect(problems(base.replace('safeState: 0', 'safeState: 2 ')).join()).toMatch(/safeState/);
    expect(problems(base.replace('kind: heater', 'colour: red')).join()).toMatch(/unknown field "colour"/);
    expect(problems(base.replace('    kind: heater\n', '')).join()).toMatch(/misses required field "kind"/);
  });

  it('checks controls by their type', () => {
    expect(problems(base.replace('type: hysteresis', 'type: fuzzy')).join()).toMatch(
      /control\.type must be one of hysteresis, vpd, schedule, pid/,
    );
    expect(problems(base.replace('band: 1, ', '')).join()).toMatch(/heater_f\)\.control misses required field "band"/);
  });

  it('finds semantic problems: duplicates, unknown references, bad zones, unsafe exclusions', () => {
    const two = `${base}
  - name: heater_f
    location: Flower Room
    cluster: front
    kind: heater
    output: { address: 0x20, port: A, pin: 0 }
    safeState: 1
    safety: { maxOnS: 600 }
    control: { type: hysteresis, sensor: t, setpoint: nope, band: 1, action: raise, when: [{ device: ghost, state: 1 }] }
exclusive: [[heater_f, other]]
`.replace('Europe/Berlin', 'Europe/Atlantis');
    const p = problems(two).join('\n');
    expect(p).toMatch(/timeZone "Europe\/Atlantis" is not an IANA time zone/);
    expect(p).toMatch(/device name "heater_f" is used twice/);
    expect(p).toMatch(/same output 0x20\/A0/);
    expect(p).toMatch(/unknown setpoint "nope"/);
    expect(p).toMatch(/unknown device "ghost"/);
    expect(p).toMatch(/exclusive\[0\] names unknown device "other"/);
    expect(p).toMatch(/devices\[1\] \(heater_f\)\.safety\.maxOnS cannot be used with safeState 1/);
    expect(p).toMatch(/devices\[1\] \(heater_f\)\.safeState: a heater must be off in its safe state/);
    expect(problems('devices: [').join()).toMatch(/not valid YAML/);
    expect(problems('devices: []').join()).toMatch(/devices must NOT have fewer than 1 items/);
  });

  it('refuses heaters, CO2 valves and humidifiers without a maximum on time, naming the device and field', () => {
    const p = problems(base.replace('    safety: { maxOnS: 7200 }\n', '')).join('\n');
    expect(p).toMatch(/devices\[0\] \(heater_f\)\.safety\.maxOnS: a heater needs safety\.maxOnS > 0/);
    for (const kind of ['co2_valve', 'humidifier'])
      expect(
        problems(base.replace('    safety: { maxOnS: 7200 }\n', '').replace('kind: heater', `kind: ${kind}`)).join(),
      ).toMatch(new RegExp(`heater_f\\)\\.safety\\.maxOnS: a ${kind} needs`));
    expect(() => parseDevicesYaml(base.replace('    safety: { maxOnS: 7200 }\n', ''), 'rooms.yaml')).toThrow(
      /^rooms\.yaml: 1 problem/,
    );
  });

  it('resolves room hard limits and manual expiry; a limit needs a sensor', () => {
    const c = parseDevicesYaml(
      `${base}rooms:\n  Flower Room: { maxTemp: 28, co2Ceiling: 1500 }\nmanual: { defaultExpiryS: 600, maxExpiryS: 3600 }\n`,
    );
    expect(c.devices[0]).toMatchObject({
      hardLimit: { sensor: 'dry_bulb_f', above: 28, what: 'Flower Room maximum temperature' },
      safetySensors: ['dry_bulb_f'],
    });
    expect(c.manual).toEqual({ defaultExpiryMs: 600_000, maxExpiryMs: 3_600_000 });
    const noSensor = base.replace(/ {4}control: .*\n/, '') + 'rooms:\n  Flower Room: { maxTemp: 28 }\n';
    expect(problems(noSensor).join()).toMatch(
      /heater_f: rooms\["Flower Room"\] sets the Flower Room maximum temperature; name the sensor/,
    );
    expect(problems(`${base}manual: { defaultExpiryS: 7200, maxExpiryS: 3600 }\n`).join()).toMatch(
      /manual\.defaultExpiryS \(7200\) > manual\.maxExpiryS \(3600\)/,
    );
  });

  it('the shipped config/devices.yaml is valid', async () => {
    const fs = await import('node:fs');
    const c = parseDevicesYaml(fs.readFileSync(new URL('../../../config/devices.yaml', import.meta.url), 'utf8'));
    expect(c.devices.length).toBeGreaterThanOrEqual(12);
    for (const room of ['Flower Room', 'Veg Room']) expect(c.devices.some((d) => d.location === room)).toBe(true);
  });
});

describe('command parsing', () => {
  const p = new CommandParser();
  it('accepts the wire contract and defaults the mode', () => {
    expect(p.parse('{"device":"heater_f","state":1,"mode":"manual","ttl_s":60,"by":"alice"}')).toEqual({
      ok: true,
      kind: 'device',
      command: { device: 'heater_f', state: 1, mode: 'manual', ttl_s: 60, by: 'alice' },
    });
    expect(p.parse({ device: 'x', state: 0, by: 'b' })).toMatchObject({
      ok: true,
      command: { mode: 'manual', state: 0 },
    });
    expect(p.parse({ device: 'x', mode: 'auto', by: 'b' })).toMatchObject({ ok: true, command: { mode: 'auto' } });
    expect(p.parse({ setpoint: 'sp', value: 21.5, by: 'b' })).toMatchObject({ ok: true, kind: 'setpoint' });
  });

  it('rejects bad commands with a reason', () => {
    expect(p.parse('not json')).toEqual({ ok: false, error: 'command is not JSON' });
    expect(p.parse('[1]')).toMatchObject({ ok: false });
    expect(p.parse({ device: 'x', state: 1 })).toMatchObject({ ok: false, error: expect.stringMatching(/by/) });
    expect(p.parse({ device: 'x', state: 2, by: 'b' })).toMatchObject({ ok: false });
    expect(p.parse({ device: 'x', mode: 'manual', by: 'b' })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/state/),
    });
    expect(p.parse({ device: 'x', mode: 'auto', ttl_s: 5, by: 'b' })).toMatchObject({ ok: false });
    expect(p.parse({ device: 'x', by: 'b' })).toMatchObject({ ok: false });
    expect(p.parse({ device: 'x', state: 1, by: 'b', extra: 1 })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/extra/),
    });
  });
});
