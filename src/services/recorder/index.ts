import { recorderEnv } from '../../config/recorder.js';
import {
  ALERTS_UPDATE,
  ANALYTICS_UPDATE,
  CONTROL_COMMAND,
  DEVICE_UPDATE,
  glob,
  SENSOR_UPDATE,
} from '../../contracts/names.js';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Codec } from '../../bus/codec.js';
import type { Subscription } from '../../bus/subscriber.js';
import { startServiceRuntime, type ServiceRuntime, type ServiceRuntimeOptions } from '../common/runtime.js';
import type { ServiceHandle } from '../types.js';
import { RotatingLog } from './rotating-log.js';
import { evictOldest } from '../../util/bounded.js';
import { RecentKeys } from '../../util/recent.js';
import { parseUserChannel, USER_CHANNEL_KINDS, type UserChannelKind } from '../../contracts/user-channels.js';
import { checkRecordUsers, checkUserKinds, recordUsers } from './users.js';

/** Caps on the recorder's memory of outside input: dedupe keys (channel + message) and devices' last states. */
export const RECORDER_LIMITS = { dedupeEntries: 10_000, devices: 4096 };

export { RotatingLog, type RotatingLogOptions } from './rotating-log.js';
export {
  ALL_USERS,
  checkRecordUsers,
  checkUserKinds,
  jsonSafe,
  parseRecordUsers,
  parseUserKinds,
  type UserRecordingStats,
} from './users.js';

/** Options of `canopy recorder`. */
export interface RecorderConfig {
  /** @defaultValue `$CANOPY_DATA_DIR/recordings` */
  dir: string;
  /**
   * @defaultValue `['sensor:update*', 'device:update*', 'analytics:update*', 'alerts:update*', 'control:command']`
   * — every update channel (broad, level, specific) and the control commands; exactly the patterns
   * the generated `canopy-recorder` ACL user may PSUBSCRIBE to.
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
  /**
   * @defaultValue `[]` — off: no `user:{id}:*` channel is recorded. User ids whose channels are
   * recorded (decoded, as JSON lines in `users-YYYY-MM-DD[.n].jsonl`); `['*']` records every user.
   */
  users: string[];
  /** @defaultValue all five kinds (`raw`, `features`, `predictions`, `commands`, `alerts`) — which of the users' channels. */
  userKinds: UserChannelKind[];
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
  /** How many message digests the duplicate check holds now: those of the last `dedupeWindowMs`. */
  dedupeKeys(): number;
  readonly stats: {
    received: number;
    recorded: number;
    duplicates: number;
    controlRecorded: number;
    /** Digests forgotten early in a flood (the duplicate check's cap) plus devices' last states dropped past their cap. */
    evicted: number;
    userRecorded: number;
    userInvalid: number;
    userUndecodable: number;
    userIgnored: number;
  };
}

/**
 * `canopy recorder`: PSUBSCRIBEs to every update channel and writes each
 * message once (the copies on its level and specific channels are
 * recognised) as a JSON line `{ts, channel, message}` to rotating files
 * `updates-YYYY-MM-DD[.n].jsonl`; device state changes and control commands
 * also go to `control-YYYY-MM-DD[.n].jsonl` — the control history for
 * setups where the automation service does not keep one. With `users`
 * set, the chosen users' channels go to `users-YYYY-MM-DD[.n].jsonl`
 * (see `recordUsers` in `./users.ts`); otherwise no user channel is
 * recorded, even one an update pattern happens to match.
 */
export async function start(config: Partial<RecorderConfig> = {}): Promise<RecorderHandle> {
  const c: RecorderConfig = {
    dir: recorderEnv().dir,
    patterns: [SENSOR_UPDATE, DEVICE_UPDATE, ANALYTICS_UPDATE, ALERTS_UPDATE].map(glob).concat(CONTROL_COMMAND),
    dedupeWindowMs: 2000,
    maxFileBytes: 64 * 1024 * 1024,
    retentionDays: 14,
    maxMessageBytes: 1024 * 1024,
    users: [],
    userKinds: [...USER_CHANNEL_KINDS],
    runtime: {},
    ...config,
  };
  // validated at once (a ConfigError names the bad entry)
  c.users = checkRecordUsers(c.users);
  c.userKinds = checkUserKinds(c.userKinds);
  fs.mkdirSync(c.dir, { recursive: true, mode: 0o750 });
  const stats = {
    received: 0,
    recorded: 0,
    duplicates: 0,
    controlRecorded: 0,
    evicted: 0,
    userRecorded: 0,
    userInvalid: 0,
    userUndecodable: 0,
    userIgnored: 0,
  };
  const rt = await startServiceRuntime({ ...c.runtime, service: 'recorder', counters: () => ({ ...stats }) });
  const logOpts = { dir: c.dir, maxFileBytes: c.maxFileBytes, retentionDays: c.retentionDays };
  const updates = new RotatingLog({ ...logOpts, name: 'updates' });
  const control = new RotatingLog({ ...logOpts, name: 'control' });
  // a flood within the window forgets the oldest keys (at worst a duplicate is recorded twice)
  const recent = new RecentKeys({
    windowMs: c.dedupeWindowMs,
    max: RECORDER_LIMITS.dedupeEntries,
    onEvict: () => stats.evicted++,
  });
  const lastDevice = new Map<string, { state: unknown; mode: unknown }>();

  const users = new RotatingLog({ ...logOpts, name: 'users' });
  const onMessage = (raw: string, channel: string) => {
    // user data never goes to the update log, whatever pattern a caller configured (`*:update:*` matches `user:update:raw`)
    if (parseUserChannel(channel)) return;
    stats.received++;
    if (rt.paused) return;
    const now = Date.now();
    const base = channelBase(channel);
    // keyed by a digest: a message can be up to maxMessageBytes, and a flood holds up to dedupeEntries keys
    const repeat = recent.seen(createHash('sha1').update(base).update('\u0000').update(raw).digest('base64'));
    if (repeat) {
      stats.duplicates++;
      return;
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
    if (base === DEVICE_UPDATE && message && typeof message === 'object') {
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
    } else if (channel === CONTROL_COMMAND) {
      control.write({ ts, kind: 'command', message });
      stats.controlRecorded++;
    }
  };
  const subs: Subscription[] = [];
  try {
    subs.push(await rt.subscriber.psubscribe<string>(c.patterns, onMessage, { codec: textCodec }));
    rt.log.info({ dir: c.dir, patterns: c.patterns }, 'recording');
    const s = await recordUsers(
      {
        subscriber: rt.subscriber,
        log: rt.log,
        out: users,
        users: c.users,
        kinds: c.userKinds,
        maxMessageBytes: c.maxMessageBytes,
        paused: () => rt.paused,
      },
      stats,
    );
    if (s) subs.push(s);
  } catch (err) {
    for (const s of subs) await s.unsubscribe().catch(() => undefined);
    await Promise.all([updates.close(), control.close(), users.close()]);
    await rt.close();
    throw err;
  }

  return {
    runtime: rt,
    stats,
    dedupeKeys: () => recent.size,
    flush: async () => {
      await updates.flush();
      await control.flush();
      await users.flush();
    },
    async stop() {
      rt.beginStop(); // without Redis, nothing below waits for it
      for (const s of subs) await s.unsubscribe().catch(() => undefined);
      await updates.close();
      await control.close();
      await users.close();
      await rt.close();
    },
  };
}
