import { ALERTS_PREFIX, ALERTS_UPDATE, DEVICE_UPDATE, SENSOR_UPDATE } from '../../contracts/names.js';
import { defaultConfigFile } from '../../can/paths.js';
import { PresenceWatcher } from '../../bus/presence.js';
import type { Subscription } from '../../bus/subscriber.js';
import { startServiceRuntime, type ServiceRuntime, type ServiceRuntimeOptions } from '../common/runtime.js';
import {
  checkDeviceUpdate,
  checkSensorUpdate,
  failsafeOf,
  readingsOf,
  updateTime,
  type DeviceUpdate,
  type SensorUpdate,
} from '../common/updates.js';
import type { ServiceHandle } from '../types.js';
import { loadAlertRules } from '../../cea/alerts/rules-file.js';
import { AlertEngine, type Alert, type AlertTransition } from '../../cea/alerts/engine.js';
import { Notifier, type NotifierOptions } from './notify.js';
import { AckReader } from './acks.js';

export * from '../../cea/alerts/engine.js';
export * from '../../cea/alerts/rules-file.js';
export * from './notify.js';
export * from './channels.js';
export * from './http.js';
export * from './acks.js';

/** Where alerts are kept beyond Redis (the store's alerts table); optional. */
export interface AlertStore {
  openAlert(a: {
    rule: string;
    sensor?: string | null;
    severity: string;
    message: string;
    startedAt?: number;
  }): Promise<{ id: number }>;
  resolveAlert(id: number, at?: number): Promise<unknown>;
}

/** Options of `canopy alerts`. */
export interface AlertsConfig {
  /** @defaultValue `ALERTS_CONFIG` or the shipped `config/alerts.yaml` — the rules (YAML). */
  configPath: string;
  /** @defaultValue from the `ALERTS_*` environment (src/config/alerts.ts) */
  notifier: Partial<NotifierOptions>;
  /** @defaultValue 1000 — stale sensors and reminders are checked this often. */
  tickMs: number;
  /** @defaultValue 2000 — heartbeats are scanned this often. */
  presencePollMs: number;
  /** @defaultValue `alerts:update` — every transition is published here (JSON `{type, alert}`). */
  channel: string;
  /** @defaultValue `alerts:` — `alerts:active` (JSON array) and `alerts:recent` (JSON array, newest first). */
  keyPrefix: string;
  /** @defaultValue 200 — transitions kept in `alerts:recent`. */
  recentLimit: number;
  /** @defaultValue none — the store's alerts table, when one is given. */
  store: AlertStore | undefined;
  /** @defaultValue `{}` — passed to {@link startServiceRuntime}. */
  runtime: Partial<Omit<ServiceRuntimeOptions, 'service'>>;
}

/** The notifier's settings and the rules file from the environment (src/config/alerts.ts). */
export interface AlertsHandle extends ServiceHandle {
  readonly runtime: ServiceRuntime;
  readonly engine: AlertEngine;
  readonly notifier: Notifier;
}

/**
 * `canopy alerts`: evaluates the rules on every `sensor:update`, watches
 * `device:update` for failsafe states and the heartbeats for vanished
 * services; notifies by webhook and e-mail (grouped, reminded, resolved),
 * keeps `alerts:active`/`alerts:recent` in Redis, publishes each
 * transition on `alerts:update`, and writes the store's alerts table when given one.
 */
export async function start(config: Partial<AlertsConfig> = {}): Promise<AlertsHandle> {
  const c: AlertsConfig = {
    configPath: defaultConfigFile('alerts.yaml'),
    notifier: {},
    tickMs: 1000,
    presencePollMs: 2000,
    channel: ALERTS_UPDATE,
    keyPrefix: ALERTS_PREFIX,
    recentLimit: 200,
    store: undefined,
    runtime: {},
    ...config,
  };
  const rules = loadAlertRules(c.configPath);
  const engine = new AlertEngine(rules);
  const counters = { readings: 0, transitions: 0, held: 0, acknowledged: 0, bad_acks: 0, errors: 0 };
  const ref: { notifier?: Notifier } = {};
  const rt = await startServiceRuntime({
    ...c.runtime,
    service: 'alerts',
    counters: () => ({
      ...counters,
      active: engine.active().length,
      untracked: engine.untracked,
      ...(ref.notifier ? { pending: ref.notifier.pending, notify: ref.notifier.stats } : {}),
    }),
    onReloadConfig: () => {
      const next = loadAlertRules(c.configPath);
      engine.setConfig(next);
      return { rules: next.rules.length };
    },
  });
  const notify = new Notifier(c.notifier, rt.log);
  ref.notifier = notify;
  const activeKey = `${c.keyPrefix}active`;
  const recentKey = `${c.keyPrefix}recent`;
  const storeIds = new Map<string, number>();
  let recent: unknown[] = [];
  const held: AlertTransition[] = [];

  try {
    const saved = await rt.conn.run('GET alerts', (cl) => cl.mGet([activeKey, recentKey]));
    const active = saved[0] ? (JSON.parse(String(saved[0])) as Alert[]) : [];
    recent = saved[1] ? (JSON.parse(String(saved[1])) as unknown[]) : [];
    engine.restore(active, Date.now());
    for (const a of active) if (a.id !== undefined) storeIds.set(a.key, a.id);
  } catch (err) {
    rt.log.warn({ err: (err as Error).message }, 'could not restore the active alerts');
  }

  let chain: Promise<void> = Promise.resolve();
  const handle = (ts: AlertTransition[]) => {
    if (ts.length === 0) return;
    chain = chain
      .then(() => record(ts))
      .catch((err: unknown) => {
        counters.errors++;
        rt.log.error({ err: (err as Error).message }, 'alert bookkeeping failed');
      });
  };
  const record = async (ts: AlertTransition[]) => {
    counters.transitions += ts.length;
    for (const t of ts) {
      rt.log.info({ type: t.type, key: t.alert.key, severity: t.alert.severity }, t.alert.message);
      if (c.store) {
        try {
          if (t.type === 'fired') {
            const row = await c.store.openAlert({
              rule: t.alert.rule,
              sensor: t.alert.subject,
              severity: t.alert.severity,
              message: t.alert.message,
              startedAt: t.at,
            });
            storeIds.set(t.alert.key, row.id);
            t.alert.id = row.id;
          } else if (t.type === 'resolved') {
            const id = storeIds.get(t.alert.key);
            if (id !== undefined) await c.store.resolveAlert(id, t.at);
            storeIds.delete(t.alert.key);
          }
        } catch (err) {
          counters.errors++;
          rt.log.error({ err: (err as Error).message, key: t.alert.key }, 'could not store the alert');
        }
      }
    }
    recent = [
      ...ts.map((t) => ({ type: t.type, at: new Date(t.at).toISOString(), alert: t.alert })).reverse(),
      ...recent,
    ].slice(0, c.recentLimit);
    const active = engine.active().map((a) => ({ ...a, ...(storeIds.has(a.key) ? { id: storeIds.get(a.key) } : {}) }));
    await rt.conn.run('SET alerts', (cl) =>
      cl.multi().set(activeKey, JSON.stringify(active)).set(recentKey, JSON.stringify(recent)).exec(),
    );
    await rt.publisher.publishMany(ts.map((t) => ({ channel: c.channel, message: { type: t.type, alert: t.alert } })));
    // an acknowledgement is shown and kept, not sent to phones
    const news = ts.filter((t) => t.type !== 'acknowledged');
    if (rt.paused) {
      held.push(...news);
      counters.held = held.length;
    } else notify.push(news);
  };
  rt.on('resume', () => {
    notify.push(held.splice(0));
    counters.held = 0;
  });

  const subs: Subscription[] = [];
  subs.push(
    await rt.subscriber.subscribe<SensorUpdate>(
      SENSOR_UPDATE,
      (u) => {
        const ts = updateTime(u);
        for (const [sensor, value] of readingsOf(u)) {
          counters.readings++;
          handle(engine.reading(sensor, value, ts));
        }
      },
      { validate: checkSensorUpdate },
    ),
  );
  subs.push(
    await rt.subscriber.subscribe<DeviceUpdate>(
      DEVICE_UPDATE,
      (u) => {
        const f = failsafeOf(u);
        handle(engine.device(u.device, f.failsafe, f.reason, updateTime(u)));
      },
      { validate: checkDeviceUpdate },
    ),
  );

  const watcher = new PresenceWatcher(rt.conn, { pollMs: c.presencePollMs, logger: rt.log });
  watcher.on('appeared', (l) => {
    if (l.info?.service && l.instance !== rt.instance) handle(engine.serviceUp(l.info.service, l.instance, Date.now()));
  });
  watcher.on('vanished', (instance, last) => {
    if (last?.service && instance !== rt.instance) handle(engine.serviceGone(last.service, instance, Date.now()));
  });
  await watcher.start();
  const acks = new AckReader(rt.conn);
  let polling = false;
  const pollAcks = async () => {
    if (polling) return;
    polling = true;
    try {
      for (const a of await acks.poll()) {
        const ts = engine.acknowledge(a.key, a.since, a.by, a.at);
        counters.acknowledged += ts.length;
        handle(ts);
      }
      counters.bad_acks = acks.bad;
    } catch (err) {
      counters.errors++;
      rt.log.warn({ err: (err as Error).message }, 'could not read the acknowledgements');
    } finally {
      polling = false;
    }
  };
  await pollAcks();
  const ticker = setInterval(() => {
    handle(engine.tick(Date.now()));
    void pollAcks();
  }, c.tickMs);
  ticker.unref();

  return {
    runtime: rt,
    engine,
    notifier: notify,
    async stop() {
      rt.beginStop(); // without Redis, nothing below waits for it
      clearInterval(ticker);
      await watcher.close();
      for (const s of subs) await s.unsubscribe().catch(() => undefined);
      await chain;
      await notify.flush().catch(() => undefined);
      await notify.close();
      await rt.close();
    },
  };
}
