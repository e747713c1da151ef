import fs from 'node:fs';
import path from 'node:path';
import type { Codec } from '../../bus/codec.js';
import type { Subscription } from '../../bus/subscriber.js';
import { startServiceRuntime, type ServiceRuntime, type ServiceRuntimeOptions } from '../common/runtime.js';
import type { ServiceHandle } from '../types.js';
import { RotatingLog } from './rotating-log.js';
import { evictOldest } from '../../util/bounded.js';

/** Caps on the recorder's memory of outside input: dedupe keys (channel + message) and devices' last states. */
export const RECORDER_LIMITS = { dedupeEntries: 10_000, devices: 4096 };

export { RotatingLog, type RotatingLogOptions } from './rotating-log.js';

/** Options of `canopy recorder`. */
export interface RecorderConfig {
  /** @defaultValue `$CANOPY_DATA_DIR/recordings` */
  dir: string;
  /**
   * @defaultValue `['*:update', '*:update:*', 'control:command']` — every update channel
   * (broad, level, specific) of any kind, and the control commands.
   */
  patterns: string[];
  /** @defaultValue 2000 — the same message on its broad, level and specific channels within this window is recorded once. */
  dedupeWindowMs: number;
  /** @defaultValue 64 MiB — a log file is rotated when it would grow past this. */
  maxFileBytes: number;
  /** @defaultValue 14 — files older than this many days are deleted. */
  retentionDays: number;
  /** @defaultValue 1 MiB — larger messages are recorded truncated (flagged). */
  maxMessageBytes: number;
  /** @defaultValue `{}` — passed to {@link startServiceRuntime}. */
  runtime: Partial<Omit<ServiceRuntimeOptions, 'service'>>;
}

const textCodec: Codec = {
  name: 'text',
  encode: (v) => String(v),
  decode: (d) => (typeof d === 'string' ? d : d.toString('utf8')),
};

/** `sensor:update:Flower Room:front` → `sensor:update`. */
export function channelBase(channel: string): string {
  const i = channel.indexOf(':update');
  return i < 0 ? channel : channel.slice(0, i + ':update'.length);
}

export interface RecorderHandle extends ServiceHandle {
  readonly runtime: ServiceRuntime;
  /** Waits until everything received so far is written. */
  flush(): Promise<void>;
  readonly stats: { received: number; recorded: number; duplicates: number; controlRecorded: number };
}

/**
 * `canopy recorder`: PSUBSCRIBEs to every update channel and writes each
 * message once (the copies on its level and specific channels are
 * recognised) as a JSON line `{ts, channel, message}` to rotating files
 * `updates-YYYY-MM-DD[.n].jsonl`; device state changes and control commands
 * also go to `control-YYYY-MM-DD[.n].jsonl` — the control history for
 * setups where the automation service does not keep one.
 */
export async function start(config: Partial<RecorderConfig> = {}): Promise<RecorderHandle> {
  const c: RecorderConfig = {
    dir: path.join(path.resolve(process.env.CANOPY_DATA_DIR || './data'), 'recordings'),
    patterns: ['*:update', '*:update:*', 'control:command'],
    dedupeWindowMs: 2000,
    maxFileBytes: 64 * 1024 * 1024,
    retentionDays: 14,
    maxMessageBytes: 1024 * 1024,
    runtime: {},
    ...config,
  };
  fs.mkdirSync(c.dir, { recursive: true, mode: 0o750 });
  const stats = { received: 0, recorded: 0, duplicates: 0, controlRecorded: 0, evicted: 0 };
  const rt = await startServiceRuntime({ ...c.runtime, service: 'recorder', counters: () => ({ ...stats }) });
  const logOpts = { dir: c.dir, maxFileBytes: c.maxFileBytes, retentionDays: c.retentionDays };
  const updates = new RotatingLog({ ...logOpts, name: 'updates' });
  const control = new RotatingLog({ ...logOpts, name: 'control' });
  const recent = new Map<string, number>();
  const lastDevice = new Map<string, { state: unknown; mode: unknown }>();

  const onMessage = (raw: string, channel: string) => {
    stats.received++;
    if (rt.paused) return;
    const now = Date.now();
    const base = channelBase(channel);
    const key = `${base}\u0000${raw}`;
    const seen = recent.get(key);
    if (seen !== undefined && now - seen < c.dedupeWindowMs) {
      stats.duplicates++;
      return;
    }
    recent.set(key, now);
    if (recent.size > RECORDER_LIMITS.dedupeEntries) {
      for (const [k, t] of recent) if (now - t >= c.dedupeWindowMs) recent.delete(k);
      // a flood within the window: forget the oldest (at worst a duplicate is recorded twice)
      stats.evicted += evictOldest(recent, RECORDER_LIMITS.dedupeEntries);
    }
    let message: unknown;
    const truncated = raw.length > c.maxMessageBytes;
    try {
      message = truncated ? { raw: raw.slice(0, c.maxMessageBytes) } : JSON.parse(raw);
    } catch {
      message = { raw };
    }
    const ts = new Date(now).toISOString();
    updates.write({ ts, channel, ...(truncated ? { truncated: true } : {}), message });
    stats.recorded++;
    if (base === 'device:update' && message && typeof message === 'object') {
      const m = message as { device?: unknown; state?: unknown; mode?: unknown };
      const dev = String(m.device);
      const prev = lastDevice.get(dev);
      if (!prev || prev.state !== m.state || prev.mode !== m.mode) {
        lastDevice.set(dev, { state: m.state, mode: m.mode });
        stats.evicted += evictOldest(lastDevice, RECORDER_LIMITS.devices);
        control.write({
          ts,
          kind: 'state',
          device: dev,
          from: prev ?? null,
          to: { state: m.state, mode: m.mode },
          message,
        });
        stats.controlRecorded++;
      }
    } else if (channel === 'control:command') {
      control.write({ ts, kind: 'command', message });
      stats.controlRecorded++;
    }
  };
  const subs: Subscription[] = [];
  subs.push(await rt.subscriber.psubscribe<string>(c.patterns, onMessage, { codec: textCodec }));
  rt.log.info({ dir: c.dir, patterns: c.patterns }, 'recording');

  return {
    runtime: rt,
    stats,
    flush: async () => {
      await updates.flush();
      await control.flush();
    },
    async stop() {
      for (const s of subs) await s.unsubscribe().catch(() => undefined);
      await updates.close();
      await control.close();
      await rt.close();
    },
  };
}
