import type { Connection } from '../bus/connection.js';
import { listInstances } from '../bus/presence.js';
import { ago, painter, table, type Painter } from './screen.js';

export interface RedisMonitorOptions {
  /** @defaultValue `['can:raw', 'actuators:commands']` */
  streams: string[];
  /** @defaultValue `sensor:` — live value keys (`<prefix><name>` and `<prefix><name>:ts`). */
  livePrefix: string;
  /** @defaultValue false */
  color: boolean;
  /** @defaultValue `Date.now` */
  now: () => number;
}

/** Flat `[k1, v1, k2, v2…]` (RESP2) or a Map (RESP3) → object. */
function pairs(x: unknown): Record<string, unknown> {
  if (x instanceof Map) return Object.fromEntries(x);
  if (Array.isArray(x)) {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < x.length; i += 2) o[String(x[i])] = x[i + 1];
    return o;
  }
  return (x ?? {}) as Record<string, unknown>;
}

const str = (v: unknown) => (v === null || v === undefined ? '-' : String(v));

/** One screen of `canopy monitor redis`: streams and consumer-group lag, services, live values, memory. */
export async function renderRedisScreen(conn: Connection, o: RedisMonitorOptions): Promise<string[]> {
  const p: Painter = painter(o.color);
  const now = o.now();
  const info = await conn.run('INFO', (c) => c.info());
  const field = (k: string) => new RegExp(`^${k}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '?';
  const lines: string[] = [];
  lines.push(
    `${p.paint('bold', 'Canopy - Redis monitor')}  ${new Date(now).toISOString()}  redis ${field('redis_version')}  ` +
      `memory ${field('used_memory_human')} (peak ${field('used_memory_peak_human')})  clients ${field('connected_clients')}  ` +
      `ops/s ${field('instantaneous_ops_per_sec')}`,
  );

  lines.push('', p.paint('bold', 'STREAMS'));
  const srows: string[][] = [['stream', 'length', 'group', 'consumers', 'pending', 'lag']];
  for (const s of o.streams) {
    const exists = await conn.run('EXISTS', (c) => c.exists(s));
    if (!exists) {
      srows.push([s, p.paint('grey', 'missing'), '', '', '', '']);
      continue;
    }
    const len = await conn.run('XLEN', (c) => c.xLen(s));
    const groups = (await conn.run('XINFO GROUPS', (c) => c.sendCommand(['XINFO', 'GROUPS', s]))) as unknown[];
    if (groups.length === 0) srows.push([s, String(len), p.paint('grey', '(no group)'), '', '', '']);
    for (const g of groups) {
      const gi = pairs(g);
      const lag = gi.lag === null || gi.lag === undefined ? '?' : String(gi.lag);
      const lagText =
        Number(lag) > 1000 ? p.paint('red', lag) : Number(lag) > 0 ? p.paint('yellow', lag) : p.paint('green', lag);
      srows.push([s, String(len), str(gi.name), str(gi.consumers), str(gi.pending), lagText]);
    }
  }
  lines.push(...table(srows).map((l) => `  ${l}`));

  lines.push('', p.paint('bold', 'SERVICES'));
  const live = await listInstances(conn);
  if (live.length === 0) lines.push(`  ${p.paint('red', 'no heartbeats')}`);
  else {
    const rows = [['instance', 'service', 'state', 'up since', 'heartbeat']];
    for (const l of live) {
      const updated = Date.parse(String(l.info?.updated_at ?? ''));
      const state = l.info?.paused ? p.paint('yellow', 'paused') : p.paint('green', 'up');
      rows.push([
        l.instance,
        str(l.info?.service),
        state,
        str(l.info?.started_at),
        Number.isFinite(updated) ? ago(now - updated) : '?',
      ]);
    }
    lines.push(...table(rows).map((l) => `  ${l}`));
  }

  lines.push('', p.paint('bold', 'LIVE VALUES'));
  const keys: string[] = [];
  await conn.run('SCAN live', async (c) => {
    for await (const batch of c.scanIterator({ MATCH: `${o.livePrefix}*`, COUNT: 500 })) {
      for (const k of batch) if (!String(k).endsWith(':ts')) keys.push(String(k));
    }
  });
  keys.sort();
  if (keys.length === 0) lines.push(`  ${p.paint('grey', 'none')}`);
  else {
    const vals = await conn.run('MGET live', (c) => c.mGet(keys.flatMap((k) => [k, `${k}:ts`])));
    const rows = [['sensor', 'value', 'updated']];
    keys.forEach((k, i) => {
      const ts = Number(vals[2 * i + 1]);
      rows.push([k.slice(o.livePrefix.length), str(vals[2 * i]), Number.isFinite(ts) && ts > 0 ? ago(now - ts) : '?']);
    });
    lines.push(...table(rows).map((l) => `  ${l}`));
  }
  return lines;
}
