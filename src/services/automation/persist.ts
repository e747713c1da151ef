import type { Connection } from '../../bus/connection.js';
import type { EngineSnapshot, DeviceSnapshot } from '../../cea/control/engine.js';

/** What survives a restart, as kept in the `automation:state` hash. */
export interface PersistedState {
  snapshot: Partial<EngineSnapshot>;
  onTime: Record<string, Record<string, number>>;
}

const SETPOINTS = '_setpoints';
const ONTIME = '_ontime';

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
  for (const [field, value] of Object.entries(raw as Record<string, string>)) {
    try {
      const v = JSON.parse(String(value)) as unknown;
      if (field === SETPOINTS) setpoints = v as Record<string, number>;
      else if (field === ONTIME) onTime = v as Record<string, Record<string, number>>;
      else devices[field] = v as DeviceSnapshot;
    } catch {
      bad.push(field);
    }
  }
  return { snapshot: { devices, setpoints }, onTime, bad };
}

/** Writes the whole state in one HSET. */
export async function saveState(conn: Connection, key: string, s: PersistedState): Promise<void> {
  const fields: Record<string, string> = {};
  for (const [name, d] of Object.entries(s.snapshot.devices ?? {})) fields[name] = JSON.stringify(d);
  fields[SETPOINTS] = JSON.stringify(s.snapshot.setpoints ?? {});
  fields[ONTIME] = JSON.stringify(s.onTime);
  await conn.run(`HSET ${key}`, (c) => c.hSet(key, fields));
}
