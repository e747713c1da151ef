import fs from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { tempDir } from '../../support/tmp.js';

/** Publishes a `sensor:update` of the Flower Room's front cluster, as the worker does. */
export function publishSensorUpdate(
  cli: { publish(channel: string, message: string): Promise<unknown> },
  data: Record<string, number>,
  ts = Date.now(),
): Promise<unknown> {
  return cli.publish(
    'sensor:update',
    JSON.stringify({
      location: 'Flower Room',
      cluster: 'front',
      sensor_data: data,
      timestamp: new Date(ts).toISOString(),
    }),
  );
}

/** A small devices file with short limits, for end-to-end tests. */
export function writeDevices(dir = tempDir()): string {
  const file = path.join(dir, 'devices.yaml');
  fs.writeFileSync(
    file,
    `
timeZone: Europe/Berlin
safety: { minOnS: 0, minOffS: 0, maxStarts: 0, staleAfterS: 2 }
setpoints:
  temp_f: { value: 22, min: 10, max: 30 }
exclusive: [[humidifier_f, dehumidifier_f]]
devices:
  - name: heater_f
    location: Flower Room
    cluster: front
    kind: heater
    output: { address: 0x20, port: A, pin: 0, activeLow: true }
    safeState: 0
    wattage: 1000
    safety: { maxOnS: 3600 }
    control: { type: hysteresis, sensor: dry_bulb_f, setpoint: temp_f, band: 1, action: raise }
  - name: lights_f
    location: Flower Room
    cluster: front
    kind: lights
    output: { address: 0x20, port: A, pin: 1 }
    safeState: 0
  - name: fan_f
    location: Flower Room
    cluster: front
    kind: exhaust_fan
    output: { address: 0x20, port: B, pin: 0 }
    safeState: 1
    control: { type: hysteresis, sensor: dry_bulb_f, setpoint: 28, band: 1, action: lower }
  - name: humidifier_f
    location: Flower Room
    cluster: front
    kind: humidifier
    output: { address: 0x21, port: A, pin: 0 }
    safeState: 0
    safety: { maxOnS: 3600 }
    mode: off
  - name: dehumidifier_f
    location: Flower Room
    cluster: front
    kind: dehumidifier
    output: { address: 0x21, port: A, pin: 1 }
    safeState: 0
    mode: off
`,
  );
  return file;
}

/** Appends a command to the command stream (the only command input of the automation). */
export function sendCommand(
  c: { xAdd: (key: string, id: string, fields: Record<string, string>) => Promise<unknown> },
  cmd: Record<string, unknown> | string,
) {
  return c.xAdd('actuators:commands', '*', { command: typeof cmd === 'string' ? cmd : JSON.stringify(cmd) });
}

/** A plain node-redis client collecting messages of some channels. */
export async function collect(url: string, channels: string[]) {
  const c = createClient({ url });
  c.on('error', () => undefined); // reconnects by itself; a lost message fails the test's own wait
  await c.connect();
  const got: { channel: string; message: Record<string, unknown> }[] = [];
  await c.subscribe(channels, (message, channel) => got.push({ channel, message: JSON.parse(message) }));
  return { got, close: () => c.close() };
}

/** Polls `fn` until it returns a truthy value (10 s at most). */
export async function until<T>(fn: () => T | Promise<T>, what: string, ms = 10_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
