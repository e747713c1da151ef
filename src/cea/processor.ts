import { DbcDecoder, type CompiledMessage, type DbcDatabase } from '../can/dbc/index.js';
import { formatData } from '../can/frame.js';
import { calibrate, type Calibration } from './calibration.js';
import { SensorCatalogue, type SensorInfo } from './catalogue.js';
import { loadPipelineConfig, type NodeMap, type PipelineConfigOptions, type SensorSettings } from './config.js';
import { relativeHumidity, toKpa, vapourPressureDeficit } from './psychrometrics.js';
import type {
  CanMessageRow,
  ProcessorEntry,
  ProcessResult,
  ReadingRow,
  RejectReason,
  Rejection,
  ReadingGroup,
} from './types.js';
import { checkRange, isDryWick, RateTracker, RejectionCounters, type RateOptions } from './validation.js';

/**
 * The frame → readings processor: pure (no I/O, no clock), stateful across
 * batches (rate-of-change baselines, each room's latest pressure).
 *
 * For every entry: the frame becomes one {@link CanMessageRow} (always, even
 * when every reading in it is rejected; `UNKNOWN` when the DBC does not know
 * the id). Mapped signals are calibrated (value = raw × gain + offset), then
 * validated in this order: fault bit, physical range, dry wick (wet bulb),
 * rate of change. Accepted ones become {@link ReadingRow}s and go into the
 * batch's {@link ReadingGroup} of their location/cluster; rejected ones are
 * counted and returned in `rejected`.
 *
 * Derived rh/vpd: when a frame carries a dry or wet bulb, rh is computed
 * from the dry and wet bulb accepted in that frame (a bulb the frame does
 * not carry is taken from the node's last accepted value if it is within
 * `pairWindowMs`), with the latest accepted pressure of the same *location*
 * (both Flower Room nodes share one room pressure: whichever node reported
 * last), or `defaultPressureKpa` before the first one. rh is rounded to 0.01 %,
 * vpd to 0.001 kPa.
 */

export interface FrameProcessorOptions {
  /** @defaultValue the DBC from {@link loadPipelineConfig} (the constructor's paths, else `config/canopy.dbc`) */
  dbc: DbcDatabase;
  /** @defaultValue the node map from {@link loadPipelineConfig} (the constructor's paths, else `config/nodes.yaml`) */
  nodeMap: NodeMap;
  /** @defaultValue the settings from {@link loadPipelineConfig} (the constructor's paths, else `config/sensors.yaml`) */
  sensors: SensorSettings;
}

interface SensorRuntime {
  info: SensorInfo;
  name: string;
  cal: Calibration;
  min: number;
  max: number;
  rate: RateTracker;
  rateOpts: RateOptions;
  location: string;
  cluster: string;
  groupKey: string;
  /** This sensor is a room pressure: accepted values update the location's pressure. */
  pressureUnit: string | null;
}

interface Mapped {
  signal: string;
  sensor: SensorRuntime;
  /** Bit in the fault signal that invalidates this reading, -1 for none. */
  faultBit: number;
}

interface Psy {
  dry: SensorRuntime;
  wet: SensorRuntime;
  rh: SensorRuntime;
  vpd: SensorRuntime;
  /** Index in `mapped` of the dry / wet bulb of this message, -1 when it does not carry it. */
  dryIdx: number;
  wetIdx: number;
}

interface Route {
  compiled: CompiledMessage;
  messageType: string;
  nodeId: number | null;
  mapped: Mapped[];
  faultSignal: string | null;
  psy: Psy | null;
}

export interface ProcessorStats {
  frames: number;
  unknown: number;
  truncated: number;
  accepted: number;
  derived: number;
  /** Derived RH values clamped to [0, 100]. */
  clamped: number;
  rejected: ReturnType<RejectionCounters['toJSON']>;
}

export class FrameProcessor {
  readonly catalogue: SensorCatalogue;
  readonly rejections = new RejectionCounters();
  private readonly decoder: DbcDecoder;
  private readonly nodeMap: NodeMap;
  private readonly settings: SensorSettings;
  private readonly standard = new Map<number, Route>();
  private readonly extended = new Map<number, Route>();
  private readonly knownNodes: Set<number>;
  /** Latest accepted pressure per location, kPa. */
  private readonly pressure = new Map<string, number>();
  private counts = { frames: 0, unknown: 0, truncated: 0, accepted: 0, derived: 0, clamped: 0 };
  // Per-frame scratch (no allocation per frame).
  private value = new Float64Array(16);
  private reason: Array<RejectReason | null | undefined> = [];

  constructor(opts: Partial<FrameProcessorOptions> = {}, configPaths: Partial<PipelineConfigOptions> = {}) {
    const need = !opts.dbc || !opts.nodeMap || !opts.sensors;
    const loaded = need ? loadPipelineConfig(configPaths) : null;
    const o: FrameProcessorOptions = {
      dbc: opts.dbc ?? (loaded as NonNullable<typeof loaded>).dbc,
      nodeMap: opts.nodeMap ?? (loaded as NonNullable<typeof loaded>).nodeMap,
      sensors: opts.sensors ?? (loaded as NonNullable<typeof loaded>).sensors,
    };
    this.decoder = new DbcDecoder(o.dbc);
    this.nodeMap = o.nodeMap;
    this.settings = o.sensors;
    this.catalogue = new SensorCatalogue(o.nodeMap, o.sensors);
    this.knownNodes = new Set(o.nodeMap.nodes.map((n) => n.node));
    this.buildRoutes(o.dbc);
  }

  private buildRoutes(dbc: DbcDatabase): void {
    const { nodeShift, typeMask } = this.nodeMap.idScheme;
    const runtimes = new Map<string, SensorRuntime>();
    const rt = (info: SensorInfo): SensorRuntime => {
      let r = runtimes.get(info.name);
      if (r) return r;
      const p = this.nodeMap.psychrometer;
      r = {
        info,
        name: info.name,
        cal: info.calibration,
        min: info.min,
        max: info.max,
        rate: new RateTracker(),
        rateOpts: { maxRatePerSecond: info.maxRatePerSecond, ...this.settings.rateOfChange },
        location: info.location,
        cluster: info.cluster,
        groupKey: `${info.location}\u0000${info.cluster}`,
        pressureUnit: p && info.base === p.pressure ? info.unit : null,
      };
      runtimes.set(info.name, r);
      return r;
    };
    const sensorsOf = (node: number) => this.catalogue.sensors.filter((s) => s.node === node);
    for (const msg of dbc.messages) {
      const nodeNum = Math.floor(msg.id / 2 ** nodeShift);
      const messageType = this.nodeMap.messageTypes.get(msg.id & typeMask) ?? msg.name;
      const known = this.knownNodes.has(nodeNum);
      const mapped: Mapped[] = [];
      let psy: Psy | null = null;
      const fault = this.nodeMap.faults[messageType];
      if (known) {
        const own = sensorsOf(nodeNum);
        for (const info of own) {
          if (info.source?.messageType !== messageType) continue;
          if (!msg.signals.some((s) => s.name === info.source?.signal)) continue;
          const bit = fault?.bits[info.source.signal];
          mapped.push({ signal: info.source.signal, sensor: rt(info), faultBit: bit ?? -1 });
        }
        const p = this.nodeMap.psychrometer;
        const find = (base: string) => own.find((s) => s.base === base);
        const dry = p && find(p.dry);
        const wet = p && find(p.wet);
        const rh = p && find(p.rh);
        const vpd = p && find(p.vpd);
        const dryIdx = mapped.findIndex((m) => m.sensor.info === dry);
        const wetIdx = mapped.findIndex((m) => m.sensor.info === wet);
        if (dry && wet && rh && vpd && (dryIdx >= 0 || wetIdx >= 0)) {
          psy = { dry: rt(dry), wet: rt(wet), rh: rt(rh), vpd: rt(vpd), dryIdx, wetIdx };
        }
      }
      const route: Route = {
        compiled: this.decoder.get(msg.id, msg.extended) as CompiledMessage,
        messageType,
        nodeId: known ? nodeNum : null,
        mapped,
        faultSignal: fault && mapped.some((m) => m.faultBit >= 0) ? fault.signal : null,
        psy,
      };
      (msg.extended ? this.extended : this.standard).set(msg.id, route);
      if (mapped.length > this.value.length) this.value = new Float64Array(mapped.length);
    }
  }

  /** Processes one batch; state (rate baselines, room pressure) carries over to the next. */
  process(entries: readonly ProcessorEntry[]): ProcessResult {
    const messages: CanMessageRow[] = new Array(entries.length);
    const readings: ReadingRow[] = [];
    const rejected: Rejection[] = [];
    const groups = new Map<string, ReadingGroup>();
    const psySettings = this.settings.psychrometer;
    const value = this.value;
    const reason = this.reason;

    const accept = (s: SensorRuntime, v: number, time: number, streamId: string) => {
      readings.push({ streamId, time, sensor: s.name, value: v, location: s.location, cluster: s.cluster });
      let g = groups.get(s.groupKey);
      if (!g)
        groups.set(s.groupKey, (g = { location: s.location, cluster: s.cluster, sensor_data: {}, timestamp: time }));
      g.sensor_data[s.name] = v;
      if (time > g.timestamp) g.timestamp = time;
      s.rate.accept(v, time);
      if (s.pressureUnit !== null) this.pressure.set(s.location, toKpa(v, s.pressureUnit));
      this.counts.accepted++;
    };
    const reject = (s: SensorRuntime, why: RejectReason, v: number | null, time: number, streamId: string) => {
      rejected.push({ streamId, time, sensor: s.name, reason: why, value: v });
      this.rejections.add(s.name, why);
    };
    const fresh = (s: SensorRuntime, time: number): number | undefined => {
      const l = s.rate.latest();
      return l && Math.abs(time - l.time) <= psySettings.pairWindowMs ? l.value : undefined;
    };

    for (let e = 0; e < entries.length; e++) {
      const { streamId, frame } = entries[e] as ProcessorEntry;
      this.counts.frames++;
      const route =
        frame.error || frame.rtr ? undefined : (frame.extended ? this.extended : this.standard).get(frame.id);
      const time = frame.ts;
      if (!route) {
        this.counts.unknown++;
        const node = Math.floor(frame.id / 2 ** this.nodeMap.idScheme.nodeShift);
        messages[e] = {
          streamId,
          timestamp: time,
          canId: frame.id,
          nodeId: this.knownNodes.has(node) ? node : null,
          messageType: 'UNKNOWN',
          dlc: frame.dlc,
          rawData: formatData(frame.data),
          decodedData: null,
        };
        continue;
      }
      const decoded: Record<string, number> = {};
      if (route.compiled.decodeValues(frame.data, decoded)) this.counts.truncated++;
      messages[e] = {
        streamId,
        timestamp: time,
        canId: frame.id,
        nodeId: route.nodeId,
        messageType: route.messageType,
        dlc: frame.dlc,
        rawData: formatData(frame.data),
        decodedData: decoded,
      };
      const mapped = route.mapped;
      const n = mapped.length;
      if (n === 0) continue;

      // 1. calibrate; fault bit; physical range
      const faults = route.faultSignal === null ? 0 : (decoded[route.faultSignal] ?? 0);
      for (let i = 0; i < n; i++) {
        const m = mapped[i] as Mapped;
        const raw = decoded[m.signal];
        if (raw === undefined) {
          reason[i] = undefined; // not in this frame (multiplexed out or truncated)
          continue;
        }
        const v = calibrate(raw, m.sensor.cal);
        value[i] = v;
        reason[i] = m.faultBit >= 0 && (faults >>> m.faultBit) & 1 ? 'fault' : checkRange(v, m.sensor);
      }
      // 2. dry wick
      const psy = route.psy;
      if (psy && psy.wetIdx >= 0 && reason[psy.wetIdx] === null) {
        const dryV =
          psy.dryIdx < 0 ? fresh(psy.dry, time) : reason[psy.dryIdx] === null ? value[psy.dryIdx] : undefined;
        if (dryV !== undefined && isDryWick(dryV, value[psy.wetIdx] as number, psySettings.dryWickMarginC)) {
          reason[psy.wetIdx] = 'dry_wick';
        }
      }
      // 3. rate of change; accept or reject
      for (let i = 0; i < n; i++) {
        let why = reason[i];
        if (why === undefined) continue;
        const s = (mapped[i] as Mapped).sensor;
        const v = value[i] as number;
        if (why === null) why = s.rate.check(v, time, s.rateOpts);
        if (why === null) accept(s, v, time, streamId);
        else {
          if (why === 'rate') s.rate.reject();
          reason[i] = why;
          reject(s, why, Number.isFinite(v) ? v : null, time, streamId);
        }
      }
      // 4. derived rh / vpd
      if (psy) this.derive(psy, time, streamId, accept, reject, fresh);
    }
    return { messages, readings, updates: [...groups.values()], rejected };
  }

  private derive(
    psy: Psy,
    time: number,
    streamId: string,
    accept: (s: SensorRuntime, v: number, time: number, streamId: string) => void,
    reject: (s: SensorRuntime, why: RejectReason, v: number | null, time: number, streamId: string) => void,
    fresh: (s: SensorRuntime, time: number) => number | undefined,
  ): void {
    const reason = this.reason;
    const value = this.value;
    const dryR = psy.dryIdx < 0 ? null : reason[psy.dryIdx];
    const wetR = psy.wetIdx < 0 ? null : reason[psy.wetIdx];
    if (dryR === undefined && wetR === undefined) return; // neither bulb in this frame
    if (wetR === 'dry_wick') {
      reject(psy.rh, 'dry_wick', null, time, streamId);
      reject(psy.vpd, 'dry_wick', null, time, streamId);
      return;
    }
    if ((dryR !== null && dryR !== undefined) || (wetR !== null && wetR !== undefined)) {
      reject(psy.rh, 'input_rejected', null, time, streamId);
      reject(psy.vpd, 'input_rejected', null, time, streamId);
      return;
    }
    const dry = psy.dryIdx >= 0 && dryR === null ? value[psy.dryIdx] : fresh(psy.dry, time);
    const wet = psy.wetIdx >= 0 && wetR === null ? value[psy.wetIdx] : fresh(psy.wet, time);
    if (dry === undefined || wet === undefined) return; // the other bulb has not reported (recently)
    const p = this.settings.psychrometer;
    const pressure = this.pressure.get(psy.rh.location) ?? p.defaultPressureKpa;
    const r = relativeHumidity(dry, wet, pressure, p.coefficient);
    if (r.unclamped < -p.rhTolerancePct || r.unclamped > 100 + p.rhTolerancePct || !Number.isFinite(r.unclamped)) {
      reject(psy.rh, 'range', Number.isFinite(r.unclamped) ? r.unclamped : null, time, streamId);
      reject(psy.vpd, 'input_rejected', null, time, streamId);
      return;
    }
    if (r.clamped) this.counts.clamped++;
    const rh = Math.round(r.rh * 100) / 100;
    const vpd = Math.round(vapourPressureDeficit(dry, r.rh) * 1000) / 1000;
    accept(psy.rh, rh, time, streamId);
    accept(psy.vpd, vpd, time, streamId);
    this.counts.derived += 2;
  }

  /** The latest accepted pressure of a location in kPa, or undefined before the first. */
  roomPressureKpa(location: string): number | undefined {
    return this.pressure.get(location);
  }

  stats(): ProcessorStats {
    return { ...this.counts, rejected: this.rejections.toJSON() };
  }
}
