import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { Heartbeat } from '../../../src/bus/presence.js';
import { Subscriber } from '../../../src/bus/subscriber.js';
import { start, type AlertsHandle } from '../../../src/services/alerts/index.js';
import { createLogger } from '../../../src/util/log.js';
import { startRedis } from '../../support/redis.js';
import { startSmtp, type TestSmtp } from '../../support/smtp.js';
import { tempDir } from '../../support/tmp.js';
import { startWebhook, type TestWebhook } from '../../support/webhook.js';

let conn: Connection;
let sub: Subscriber;
let hook: TestWebhook;
let smtp: TestSmtp;
let alerts: AlertsHandle;
const published: { type: string; alert: { key: string } }[] = [];

const until = async (cond: () => boolean, what: string) => {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

type Hook = {
  count: number;
  alerts: { status: string; rule: string; subject: string; severity: string; message: string }[];
};

beforeAll(async () => {
  const redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
  sub = await Subscriber.create(conn);
  await sub.subscribe<{ type: string; alert: { key: string } }>('alerts:update', (m) => void published.push(m));
  hook = await startWebhook();
  smtp = await startSmtp();
  const dir = tempDir();
  const rules = path.join(dir, 'alerts.yaml');
  fs.writeFileSync(
    rules,
    [
      'stale_after_s: 0',
      'reminder_interval_s: 0',
      'watch_services: [worker]',
      'rules:',
      '  - { id: temp-high, sensor: dry_bulb_f, above: 30, for_s: 60, hysteresis: 0.5, severity: warning }',
      '  - { id: co2-low, sensor: "co2_*", below: 400, severity: info }',
    ].join('\n'),
  );
  alerts = await start({
    configPath: rules,
    presencePollMs: 100,
    notifier: {
      webhookUrl: hook.url,
      smtpUrl: smtp.url,
      emailTo: ['grower@example.com'],
      emailFrom: 'canopy@example.com',
      groupWindowMs: 300,
    },
    runtime: { connection: { url: redis.url }, log: createLogger('alerts', 'silent') },
  });
});
afterAll(async () => {
  await alerts.stop();
  await sub.close();
  await conn.close();
});

const t0 = Date.parse('2026-03-01T12:00:00.000Z');
async function reading(data: Record<string, number>, atS: number): Promise<void> {
  const msg = {
    location: 'Flower Room',
    cluster: 'front',
    sensor_data: data,
    timestamp: new Date(t0 + atS * 1000).toISOString(),
  };
  await conn.client.publish('sensor:update', JSON.stringify(msg));
}

describe('canopy alerts', () => {
  it('a scripted sequence of readings gives exactly the expected webhook and e-mail notifications', async () => {
    // 1. above 30 for 60 s of reading time: fires once
    await reading({ dry_bulb_f: 25 }, 0);
    await reading({ dry_bulb_f: 31 }, 10);
    await reading({ dry_bulb_f: 31.2 }, 40);
    await reading({ dry_bulb_f: 31.4 }, 70);
    await until(() => hook.bodies.length === 1 && smtp.mails.length === 1, 'the first notification');
    // 2. still above: no repeat; inside the hysteresis band: still active; below 29.5: resolved
    await reading({ dry_bulb_f: 31.5 }, 80);
    await reading({ dry_bulb_f: 29.8 }, 90);
    await reading({ dry_bulb_f: 29.0 }, 100);
    await until(() => hook.bodies.length === 2 && smtp.mails.length === 2, 'the resolved notice');
    // 3. a storm: three alerts at once, grouped into one notification
    await reading({ co2_f: 300, co2_b: 350, co2_v: 390, dry_bulb_f: 25 }, 110);
    await until(() => hook.bodies.length === 3 && smtp.mails.length === 3, 'the grouped notification');
    // 4. a device in failsafe
    const dev = {
      location: 'Flower Room',
      cluster: 'front',
      device: 'heater_1',
      state: 0,
      mode: 'failsafe',
      timestamp: new Date(t0 + 120_000).toISOString(),
    };
    await conn.client.publish('device:update', JSON.stringify(dev));
    await until(() => hook.bodies.length === 4 && smtp.mails.length === 4, 'the failsafe notification');
    // 5. a service whose heartbeat vanishes
    const hb = await Heartbeat.start(conn, { service: 'worker', instance: 'pi:worker:42' });
    await new Promise((r) => setTimeout(r, 500));
    await hb.close();
    await until(() => hook.bodies.length === 5 && smtp.mails.length === 5, 'the service-down notification');
    await new Promise((r) => setTimeout(r, 800));

    const bodies = hook.bodies as Hook[];
    expect(bodies).toHaveLength(5);
    expect(bodies.map((b) => b.alerts.map((a) => `${a.status} ${a.rule} ${a.subject}`))).toEqual([
      ['fired temp-high dry_bulb_f'],
      ['resolved temp-high dry_bulb_f'],
      ['fired co2-low co2_f', 'fired co2-low co2_b', 'fired co2-low co2_v'],
      ['fired failsafe heater_1'],
      ['fired service-down worker'],
    ]);
    expect(bodies[0]?.alerts[0]?.message).toBe('dry_bulb_f is 31.4, above 30 for 60 s');
    expect(bodies[3]?.alerts[0]?.severity).toBe('critical');

    expect(smtp.mails).toHaveLength(5);
    expect(smtp.mails.every((m) => m.to.join() === 'grower@example.com' && m.from === 'canopy@example.com')).toBe(true);
    expect(smtp.mails.map((m) => m.subject)).toEqual([
      '[Canopy] FIRING warning: dry_bulb_f is 31.4, above 30 for 60 s',
      expect.stringMatching(
        /^\[Canopy\] RESOLVED warning: dry_bulb_f is 31.4, above 30 for 60 s \(resolved: dry_bulb_f is back to 29\)/,
      ),
      '[Canopy] 3 alerts: 3 firing',
      '[Canopy] FIRING critical: heater_1 is in its failsafe state',
      expect.stringMatching(/^\[Canopy\] FIRING critical: worker stopped/),
    ]);
    expect(smtp.mails[2]?.body).toContain('co2_b is 350, below 400');

    // stored in Redis for the api, and published on alerts:update
    const active = JSON.parse(String(await conn.client.get('alerts:active'))) as { key: string }[];
    expect(active.map((a) => a.key).sort()).toEqual(
      ['co2-low:co2_b', 'co2-low:co2_f', 'co2-low:co2_v', 'failsafe:heater_1', 'service-down:worker'].sort(),
    );
    expect(published.map((p) => `${p.type} ${p.alert.key}`)).toEqual([
      'fired temp-high:dry_bulb_f',
      'resolved temp-high:dry_bulb_f',
      'fired co2-low:co2_f',
      'fired co2-low:co2_b',
      'fired co2-low:co2_v',
      'fired failsafe:heater_1',
      'fired service-down:worker',
    ]);
  });

  it('a webhook that fails is retried: the notification arrives once it answers, nothing lost', async () => {
    hook.failNext(2);
    alerts.notifier.options.retryMs = 100;
    const before = hook.bodies.length;
    const dev = {
      location: 'Veg Room',
      cluster: 'main',
      device: 'fan_1',
      state: 1,
      mode: 'failsafe',
      timestamp: new Date().toISOString(),
    };
    await conn.client.publish('device:update', JSON.stringify(dev));
    await until(() => hook.bodies.length === before + 1, 'the retried webhook');
    expect(hook.requests).toBeGreaterThanOrEqual(before + 3);
    expect((hook.bodies.at(-1) as Hook).alerts[0]?.subject).toBe('fan_1');
    expect(alerts.notifier.stats.failed.webhook).toBe(2);
  });
});
