import type { CycleState } from '../../contracts/commands.js';
import type { DeviceUpdate } from '../../contracts/updates.js';
import { ZoneClock, parseClock, scheduleState } from '../../cea/control/timezone.js';
import { leafVpdKpa } from '../../cea/control/vpd.js';
import { cycleView, localDate, type CycleView } from '../../cea/cycle.js';
import { energyUse, type EnergyUse, type OnTimeDays } from '../../cea/energy.js';
import { judge, roomStatus, type KeyStatus, type RoomStatus } from '../../cea/health.js';
import { bandsFor, type Band, type BandQuantity } from '../../cea/targets.js';
import type { Room, SensorInfo } from './catalogue.js';
import type { LiveValue } from './live.js';
import { stagesOf, type RoomConfig } from './room-config.js';

export type KeyQuantity = BandQuantity | 'lights';

/** One value a room card leads with (GET /api/rooms `key[]`). */
export interface KeyValue extends Band {
  quantity: KeyQuantity;
  sensor?: string;
  label: string;
  unit: string;
  value: number | null;
  ts: number | null;
  stale: boolean;
  status: KeyStatus;
  /** Why (`above 27.0 °C`), or the lights' `on until 18:00`. */
  text?: string;
  /** Digits the value is shown with. */
  decimals: number;
}

/** An active alert of a room, in the alerts API's shape. */
export interface RoomAlert {
  id: string;
  rule: string;
  severity: string;
  message: string;
  location?: string;
  cluster?: string;
  sensor?: string;
  since: string;
  acknowledged?: { by: string; at: string };
}

/** What the rooms routes read from Redis besides the live values. */
export interface AutomationView {
  setpoints: Record<string, number>;
  cycles: Record<string, CycleState>;
  onTime: Record<string, OnTimeDays>;
}

export interface RoomView {
  location: string;
  cluster: string;
  label: string;
  status: RoomStatus;
  stage: string | null;
  /** The stages the location's cycle may be set to. */
  stages: string[];
  cycle: CycleView | null;
  key: KeyValue[];
  alerts: RoomAlert[];
  sensors: (LiveValue & { label: string })[];
  devices: DeviceUpdate[];
  energy: EnergyUse | null;
}

const KEY_LABEL: Record<KeyQuantity, string> = {
  temperature: 'Temperature',
  rh: 'Humidity',
  vpd_leaf: 'Leaf VPD',
  vpd_air: 'Air VPD',
  co2: 'CO₂',
  lights: 'Lights',
};
const DECIMALS: Record<KeyQuantity, number> = { temperature: 1, rh: 1, vpd_leaf: 2, vpd_air: 2, co2: 0, lights: 0 };

/** A room's friendly name: the location, with the cluster when the location has several. */
export function roomLabeller(rooms: readonly Room[]): (r: { location: string; cluster: string }) => string {
  const clusters = new Map<string, number>();
  for (const r of rooms) clusters.set(r.location, (clusters.get(r.location) ?? 0) + 1);
  return (r) => ((clusters.get(r.location) ?? 1) > 1 ? `${r.location} · ${r.cluster}` : r.location);
}

/** Everything one call of {@link buildRooms} needs. */
export interface RoomInputs {
  rooms: readonly Room[];
  live: readonly LiveValue[];
  devices: readonly DeviceUpdate[];
  config: RoomConfig | undefined;
  automation: AutomationView;
  /** The alerts service's active alerts (stored shape; `subject` is a sensor, device or service). */
  alerts: readonly Record<string, unknown>[];
  now: number;
  /** Names rooms (default: {@link roomLabeller} of `rooms`; pass the one of every room when `rooms` is a subset). */
  labelOf?: (r: { location: string; cluster: string }) => string;
}

/** The room views of GET /api/rooms (pure: everything read beforehand). */
export function buildRooms(input: RoomInputs): RoomView[] {
  const { config, now } = input;
  const tz = config?.control.timeZone ?? 'UTC';
  const zone = new ZoneClock(tz);
  const labelOf = input.labelOf ?? roomLabeller(input.rooms);
  const sensorsByName = new Map(input.rooms.flatMap((r) => r.sensors.map((s) => [s.name, s] as const)));
  const liveBy = new Map(input.live.map((l) => [l.name, l]));
  const alerts = input.alerts.map((a) => toRoomAlert(a, sensorsByName, config));

  return input.rooms.map((r) => {
    const here = (d: { location: string; cluster: string }) => d.location === r.location && d.cluster === r.cluster;
    const devices = input.devices.filter(here).map((d) => withLabel(d, config));
    const devCfg = config?.control.devices.filter(here) ?? [];
    const stored = input.automation.cycles[r.location];
    const stage = stored?.stage ?? config?.control.stages?.[r.location] ?? null;
    let cycle: CycleView | null = null;
    if (stored) {
      try {
        cycle = cycleView(stored.stage, stored.start, now, tz);
      } catch {
        cycle = null;
      }
    }

    // lights: state from the last device:update, "until" from the schedule
    const lightsCfg = devCfg.find((d) => d.kind === 'lights');
    const lightsDev = lightsCfg && devices.find((d) => d.device === lightsCfg.name);
    const sched = lightsCfg?.control?.type === 'schedule' ? lightsCfg.control : undefined;
    const scheduledOn = sched ? scheduleState(zone, parseClock(sched.on), parseClock(sched.off), now).on : undefined;
    const day = lightsDev ? lightsDev.state === 1 : (scheduledOn ?? true);

    const pick = (pred: (s: SensorInfo) => boolean) => r.sensors.find(pred);
    const temp =
      pick((s) => s.base === 'dry_bulb') ??
      pick((s) => s.kind === 'air_temperature' && !s.base.startsWith('secondary') && s.base !== 'wet_bulb');
    const rh = pick((s) => s.base === 'rh');
    const vpdAir = pick((s) => s.base === 'vpd');
    const co2 = pick((s) => s.base === 'co2');
    const bands = config
      ? bandsFor({
          cfg: config.control,
          targets: config.targets,
          limits: config.limits,
          location: r.location,
          cluster: r.cluster,
          stage: stage ?? undefined,
          setpoints: input.automation.setpoints,
          day,
          temperatureSensor: temp?.name,
        })
      : {};

    const key: KeyValue[] = [];
    const add = (q: BandQuantity, s: SensorInfo | undefined) => {
      if (!s) return;
      const l = liveBy.get(s.name);
      key.push(entry(q, s.name, s.unit, l?.value ?? null, l?.ts ?? null, l?.stale ?? true, bands[q]));
    };
    add('temperature', temp);
    add('rh', rh);
    const vpdCtl = devCfg.find((d) => d.control?.type === 'vpd')?.control;
    if (vpdCtl?.type === 'vpd') {
      const t = liveBy.get(vpdCtl.temp);
      const h = liveBy.get(vpdCtl.rh);
      const value =
        t?.value != null && h?.value != null
          ? Math.round(leafVpdKpa(t.value, h.value, vpdCtl.leafOffsetC ?? 0) * 1000) / 1000
          : null;
      const ts = t?.ts != null && h?.ts != null ? Math.min(t.ts, h.ts) : null;
      key.push(
        entry('vpd_leaf', undefined, 'kPa', value, ts, (t?.stale ?? true) || (h?.stale ?? true), bands.vpd_leaf),
      );
    } else add('vpd_air', vpdAir);
    add('co2', co2);
    if (lightsCfg) {
      const on = lightsDev ? lightsDev.state === 1 : null;
      const manual = lightsDev && lightsDev.mode !== 'auto' ? ` (${lightsDev.mode})` : '';
      const until = sched && !manual ? ` until ${on ? sched.off : sched.on}` : '';
      key.push({
        quantity: 'lights',
        label: KEY_LABEL.lights,
        unit: '',
        value: on === null ? null : on ? 1 : 0,
        ts: lightsDev ? Date.parse(lightsDev.timestamp) : null,
        stale: false,
        status: on === null ? 'unknown' : 'ok',
        text: on === null ? 'no state yet' : `${on ? 'on' : 'off'}${until}${manual}`,
        decimals: 0,
      });
    }

    const mine = alerts.filter(
      (a) => a.location === r.location && (a.cluster === undefined || a.cluster === r.cluster),
    );
    const status = roomStatus(
      key.filter((k) => k.quantity !== 'lights').map((k) => k.status),
      mine,
    );
    const since = cycle && cycle.week > 0 ? cycle.start : localDate(now - 6 * 86_400_000, tz);
    const energy = config
      ? energyUse(
          devCfg.map((d) => ({ name: d.name, wattage: d.wattage })),
          input.automation.onTime,
          since,
          config.energy,
        )
      : null;
    return {
      location: r.location,
      cluster: r.cluster,
      label: labelOf(r),
      status,
      stage,
      stages: config ? stagesOf(config, r.location) : [],
      cycle,
      key,
      alerts: mine,
      sensors: r.sensors.flatMap((s) => {
        const l = liveBy.get(s.name);
        return l ? [{ ...l, label: s.label }] : [];
      }),
      devices,
      energy,
    };
  });
}

function entry(
  quantity: BandQuantity,
  sensor: string | undefined,
  unit: string,
  value: number | null,
  ts: number | null,
  stale: boolean,
  band: Band | undefined,
): KeyValue {
  const decimals = DECIMALS[quantity];
  const j = judge(value, stale, band, unit, decimals);
  return {
    quantity,
    ...(sensor ? { sensor } : {}),
    label: KEY_LABEL[quantity],
    unit,
    value,
    ts,
    stale: value === null || stale,
    ...(band ?? {}),
    status: j.status,
    ...(j.text ? { text: j.text } : {}),
    decimals,
  };
}

function withLabel(d: DeviceUpdate, config: RoomConfig | undefined): DeviceUpdate {
  const label = d.label ?? config?.deviceLabels.get(d.device);
  return label ? { ...d, label } : d;
}

/** A stored alert in the alerts API's shape, placed in its room by its sensor or device. */
export function toRoomAlert(
  a: Record<string, unknown>,
  sensors: ReadonlyMap<string, SensorInfo>,
  config: RoomConfig | undefined,
): RoomAlert {
  const str = (k: string) => (typeof a[k] === 'string' ? (a[k] as string) : undefined);
  const subject = str('sensor') ?? str('subject');
  const s = subject ? sensors.get(subject) : undefined;
  const d = subject ? config?.control.devices.find((x) => x.name === subject) : undefined;
  const location = str('location') ?? s?.location ?? d?.location;
  const cluster = str('cluster') ?? s?.cluster ?? d?.cluster;
  const ack = a.acknowledged as { by?: unknown; at?: unknown } | undefined;
  return {
    id: String(a.id ?? a.key ?? ''),
    rule: str('rule') ?? '',
    severity: str('severity') ?? 'warning',
    message: str('message') ?? '',
    ...(location ? { location } : {}),
    ...(cluster ? { cluster } : {}),
    ...(s ? { sensor: s.name } : {}),
    since: str('since') ?? str('started_at') ?? '',
    ...(ack && typeof ack.by === 'string' && typeof ack.at === 'string'
      ? { acknowledged: { by: ack.by, at: ack.at } }
      : {}),
  };
}
