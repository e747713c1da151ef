import type { Connection } from '../../bus/connection.js';
import { withDeadline } from '../../bus/deadline.js';
import type { OnOff } from '../../cea/control/config.js';
import type { EngineSnapshot, DeviceSnapshot } from '../../cea/control/engine.js';
import type { ManualPolicy } from '../../cea/control/limits.js';
import type { Logger } from '../../util/log.js';
import type { CycleState } from '../../contracts/commands.js';
import { deviceStatesToRestore, type ControlRecorder } from './recorder.js';

/**
 * What survives a restart, as kept in the `automation:state` hash. Times
 * in it are wall-clock ms (a reboot restarts the monotonic clock); the
 * engine converts them on load and never lets a manual expiry run past
 * what was granted.
 */
export interface PersistedState {
  snapshot: Partial<EngineSnapshot>;
  onTime: Record<string, Record<string, number>>;
}

const SETPOINTS = '_setpoints';
const ONTIME = '_ontime';
/** JSON `{location: {stage, start, by, at}}`: the grow cycles (the api reads it for the rooms). */
const CYCLES = '_cycles';

/**
 * Reads the state hash: one field per device (JSON DeviceSnapshot) plus
 * `_setpoints` and `_ontime`. Fields that do not parse are skipped and
 * returned in `bad`.
 */
export async function loadState(conn: Connection, key: string): Promise<PersistedState & { bad: string[] }> {
  const raw = await conn.run(`HGETALL ${key}`, (c) => c.hGetAll(key));
  const devices: Record<string, DeviceSnapshot> = {};
  const bad: string[] = [];
  let setpoints: Record<string, number> = {};
  let onTime: Record<string, Record<string, number>> = {};
  let cycles: Record<string, CycleState> = {};
  for (const [field, value] of Object.entries(raw as Record<string, string>)) {
    try {
      const v = JSON.parse(String(value)) as unknown;
      if (field === SETPOINTS) setpoints = v as Record<string, number>;
      else if (field === ONTIME) onTime = v as Record<string, Record<string, number>>;
      else if (field === CYCLES) cycles = v as Record<string, CycleState>;
      else devices[field] = v as DeviceSnapshot;
    } catch {
      bad.push(field);
    }
  }
  return { snapshot: { devices, setpoints, cycles }, onTime, bad };
}

/** Writes the whole state in one HSET. */
export async function saveState(conn: Connection, key: string, s: PersistedState): Promise<void> {
  const fields: Record<string, string> = {};
  for (const [name, d] of Object.entries(s.snapshot.devices ?? {})) fields[name] = JSON.stringify(d);
  fields[SETPOINTS] = JSON.stringify(s.snapshot.setpoints ?? {});
  fields[ONTIME] = JSON.stringify(s.onTime);
  fields[CYCLES] = JSON.stringify(s.snapshot.cycles ?? {});
  await conn.run(`HSET ${key}`, (c) => c.hSet(key, fields));
}

/**
 * Modes and setpoints from the store when Redis lost the state hash (3 s
 * at most: a slow database never delays control). The store does not know
 * a mode's deadline: a manual or off mode is given the default expiry from
 * when it was recorded, so it is never restored "until changed".
 */
export async function stateFromStore(
  recorder: ControlRecorder,
  current: Partial<EngineSnapshot>,
  manual: ManualPolicy,
  log: Logger,
): Promise<Partial<EngineSnapshot>> {
  try {
    const work = (async () => {
      const s = await recorder.store();
      const devices: Record<string, DeviceSnapshot> = {};
      for (const d of await deviceStatesToRestore(s)) {
        const mode = d.mode === 'manual' || d.mode === 'off' ? d.mode : 'auto';
        const state: OnOff = d.state >= 0.5 ? 1 : 0;
        devices[d.device] = {
          mode,
          manualState: state,
          modeExpiresAt: mode === 'auto' ? null : d.updatedAt + manual.defaultExpiryMs,
          modeTtlMs: mode === 'auto' ? null : manual.defaultExpiryMs,
          modeBy: d.by ?? 'store',
          state,
          guard: { on: state === 1, since: d.updatedAt, starts: [] },
        };
      }
      const setpoints = Object.fromEntries(((await s.getSetpoints?.()) ?? []).map((x) => [x.name, x.value]));
      return { devices, setpoints: { ...setpoints, ...current.setpoints } };
    })();
    const snap = await withDeadline(work, 3000, () => {
      throw new Error('timed out');
    });
    if (Object.keys(snap.devices).length)
      log.info({ devices: Object.keys(snap.devices).length }, 'modes restored from the store');
    return snap;
  } catch (err) {
    log.warn(
      { err: (err as Error).message },
      'no persisted state in Redis and the store is unavailable: starting in configured modes',
    );
    return current;
  }
}
