import type { CycleState } from '../../contracts/commands.js';
import { ALERTS_ACTIVE, AUTOMATION_STATE } from '../../contracts/names.js';
import type { OnTimeDays } from '../../cea/energy.js';
import type { ApiContext } from './context.js';
import { loadRoomConfig, type RoomConfig } from './room-config.js';
import type { AutomationView } from './room-view.js';

/** The devices file as the rooms routes see it; undefined (and logged once) when it is unusable. */
export function roomConfigOf(ctx: ApiContext): RoomConfig | undefined {
  try {
    return loadRoomConfig(ctx.options.devicesFile);
  } catch (err) {
    ctx.log.warn(
      { err: (err as Error).message, code: (err as { code?: string }).code },
      'devices file unusable: rooms are shown without targets, cycles or energy',
    );
    return undefined;
  }
}

function parse<T>(raw: unknown, fallback: T): T {
  if (typeof raw !== 'string' || raw === '') return fallback;
  try {
    const v = JSON.parse(raw) as unknown;
    return v && typeof v === 'object' ? (v as T) : fallback;
  } catch {
    return fallback;
  }
}

/**
 * Setpoints, grow cycles and on time from `automation:state`, and the
 * active alerts, in one round trip. Either part missing or unreadable is
 * empty: the live values still answer.
 */
export async function readRoomState(
  ctx: ApiContext,
): Promise<{ automation: AutomationView; alerts: Record<string, unknown>[] }> {
  const empty = { automation: { setpoints: {}, cycles: {}, onTime: {} }, alerts: [] };
  if (!ctx.conn.isReady) return empty;
  try {
    const [state, alerts] = await ctx.conn.run('HMGET automation:state, GET alerts:active', (c) =>
      Promise.all([c.hmGet(AUTOMATION_STATE, ['_setpoints', '_cycles', '_ontime']), c.get(ALERTS_ACTIVE)]),
    );
    const [sp, cy, on] = state as (string | null)[];
    const list = parse<unknown>(alerts, []);
    return {
      automation: {
        setpoints: parse<Record<string, number>>(sp, {}),
        cycles: parse<Record<string, CycleState>>(cy, {}),
        onTime: parse<Record<string, OnTimeDays>>(on, {}),
      },
      alerts: Array.isArray(list) ? (list as Record<string, unknown>[]) : [],
    };
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, 'automation state or alerts unreadable: rooms shown without them');
    return empty;
  }
}
