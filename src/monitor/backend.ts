/**
 * The screen of `canopy monitor backend` (pure: a snapshot in, lines out).
 * A fixed four-line header (time, Redis, API health, the stream and its
 * groups' lag), then three sections sharing the rest of the terminal: the
 * newest stream entries, the services (heartbeat and systemd state) and the
 * live sensor values. A section longer than its share pages through its rows,
 * one page per refresh, so the header never scrolls off.
 */
import type { BackendSnapshot, Part } from './backend-data.js';
import { formatFrameLine, formatNumber, formatTime } from './frames.js';
import { fit, pad, painter, stripAnsi, table, type Painter } from './screen.js';

export interface BackendScreenOptions {
  width: number;
  height: number;
  color: boolean;
  /** Refresh counter: which page a long section shows. */
  tick: number;
}

/** `0.8s`, `12s`, `4m`, `2.5h`. */
export function shortAge(ms: number | null): string {
  if (ms === null) return '?';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

interface Section {
  title: string;
  rows: string[];
}

/** Shares `room` lines between sections (title + at least one row each first, then one row at a time). */
export function allocate(needs: readonly number[], room: number): number[] {
  const got = needs.map(() => 0);
  let left = room;
  let progress = true;
  while (left > 0 && progress) {
    progress = false;
    for (let i = 0; i < needs.length && left > 0; i++) {
      const want = needs[i] as number;
      if ((got[i] as number) < want) {
        // a section's first allotment is its title and one row together
        const step = got[i] === 0 ? Math.min(2, want) : 1;
        if (step > left) continue;
        got[i] = (got[i] as number) + step;
        left -= step;
        progress = true;
      }
    }
  }
  return got;
}

function renderSection(s: Section, budget: number, tick: number, p: Painter): string[] {
  if (budget <= 0) return [];
  const perPage = budget - 1;
  if (perPage <= 0) return [p.paint('bold', `${s.title} (${s.rows.length} hidden)`)];
  if (s.rows.length <= perPage) return [p.paint('bold', s.title), ...s.rows];
  const pages = Math.ceil(s.rows.length / perPage);
  const page = tick % pages;
  // the last page ends with the last row (a full page: the screen keeps its height)
  const from = Math.min(page * perPage, s.rows.length - perPage);
  const rows = s.rows.slice(from, from + perPage);
  return [
    `${p.paint('bold', s.title)} ${p.paint('grey', `(${from + 1}-${from + rows.length} of ${s.rows.length}, page ${page + 1}/${pages})`)}`,
    ...rows,
  ];
}

function failed<T>(x: Part<T>, p: Painter): string | null {
  return x.ok ? null : p.paint('red', `error: ${x.error}`);
}

function header(s: BackendSnapshot, p: Painter): string[] {
  const r = s.redis;
  const redis = r.ok
    ? `Redis ${r.value.version}  memory ${r.value.usedMemory} (peak ${r.value.peakMemory}, max ${r.value.maxMemory === '0B' ? 'none' : r.value.maxMemory})  clients ${r.value.clients}  ops/s ${r.value.opsPerSec}`
    : `Redis ${failed(r, p)}`;
  const a = s.api;
  const apiState = a.status === 200 ? p.paint('green', a.summary) : p.paint('red', a.summary);
  const api = `API ${a.status ?? '---'} ${apiState}  ${a.latencyMs} ms  ${p.paint('grey', a.url)}`;
  let stream: string;
  if (!s.streamInfo.ok) stream = `${s.stream}  ${failed(s.streamInfo, p)}`;
  else {
    const si = s.streamInfo.value;
    const groups = si.groups.length
      ? si.groups
          .map((g) => {
            const lag = g.lag === null ? '?' : String(g.lag);
            const c = g.lag === null || g.lag > 1000 ? 'red' : g.lag > 0 ? 'yellow' : 'green';
            return `${g.name} lag ${p.paint(c, lag)} pending ${g.pending} consumers ${g.consumers}`;
          })
          .join('; ')
      : p.paint('yellow', 'no consumer group');
    stream = `${p.paint('bold', s.stream)} length ${si.length}  ${groups}`;
  }
  return [`${p.paint('bold', 'Canopy backend monitor')}  ${formatTime(s.now)}  Ctrl+C exits`, redis, api, stream];
}

function entriesSection(s: BackendSnapshot, p: Painter): Section {
  const e = s.entries;
  const rows = !e.ok
    ? [`  ${failed(e, p)}`]
    : e.value.length === 0
      ? [`  ${p.paint('grey', 'no entries')}`]
      : [...e.value].reverse().map((f) => `  ${formatFrameLine(f, undefined, p, { timeOnly: true })}`);
  return { title: `Newest entries of ${s.stream}`, rows };
}

function servicesSection(s: BackendSnapshot, p: Painter): Section {
  const beats = s.services.ok ? s.services.value : [];
  const units = s.units?.ok ? s.units.value : [];
  const names = new Set<string>([
    ...units.map((u) => u.unit.replace(/^canopy-/, '').replace(/\.service$/, '')),
    ...beats.map((b) => b.service),
  ]);
  const grid: string[][] = [];
  for (const name of [...names].sort()) {
    const unit = units.find((u) => u.unit === `canopy-${name}.service`);
    const mine = beats.filter((b) => b.service === name);
    const sd = unit
      ? p.paint(unit.state === 'active' ? 'green' : unit.state === 'failed' ? 'red' : 'yellow', unit.state)
      : '';
    if (mine.length === 0) {
      grid.push([name, ...(s.units ? [sd] : []), p.paint(unit?.state === 'active' ? 'red' : 'grey', 'no heartbeat')]);
    }
    for (const b of mine) {
      const state = b.paused ? p.paint('yellow', 'paused') : p.paint('green', 'up');
      grid.push([name, ...(s.units ? [sd] : []), `${state} ${shortAge(b.ageMs)}`, p.paint('grey', b.instance)]);
    }
  }
  const rows = table(grid).map((l) => `  ${l}`);
  const errs = [failed(s.services, p), s.units ? failed(s.units, p) : null].filter((x): x is string => x !== null);
  if (rows.length === 0 && errs.length === 0) rows.push(`  ${p.paint('red', 'no heartbeats')}`);
  const title = `Services (heartbeat${s.units ? ', systemd' : ''})`;
  return { title, rows: [...errs.map((x) => `  ${x}`), ...rows] };
}

function sensorsSection(s: BackendSnapshot, width: number, p: Painter): Section {
  if (!s.sensors.ok) return { title: 'Sensors', rows: [`  ${failed(s.sensors, p)}`] };
  const v = s.sensors.value;
  if (v.length === 0) return { title: 'Sensors (0)', rows: [`  ${p.paint('grey', 'no live values')}`] };
  const cells = v.map((x) => {
    const n = Number(x.value);
    const value = Number.isFinite(n) ? formatNumber(n) : x.value;
    const stale = x.ageMs === null || x.ageMs > 60_000;
    return `${x.name} ${p.paint('bold', value)} ${p.paint(stale ? 'yellow' : 'grey', shortAge(x.ageMs))}`;
  });
  const cellWidth = Math.max(...cells.map((c) => stripAnsi(c).length)) + 2;
  const cols = Math.max(1, Math.floor((width - 2) / cellWidth));
  const rows: string[] = [];
  for (let i = 0; i < cells.length; i += cols) {
    rows.push(
      `  ${cells
        .slice(i, i + cols)
        .map((c, j, a) => (j === a.length - 1 ? c : pad(c, cellWidth)))
        .join('')}`,
    );
  }
  return { title: `Sensors (${v.length})`, rows };
}

/** The whole screen, at most `height` lines of at most `width` columns. */
export function renderBackendScreen(s: BackendSnapshot, o: BackendScreenOptions): string[] {
  const p = painter(o.color);
  const top = [...header(s, p), p.paint('grey', '-'.repeat(o.width))];
  const sections = [entriesSection(s, p), servicesSection(s, p), sensorsSection(s, o.width, p)];
  const budgets = allocate(
    sections.map((x) => x.rows.length + 1),
    Math.max(0, o.height - top.length),
  );
  const body = sections.flatMap((x, i) => renderSection(x, budgets[i] as number, o.tick, p));
  return fit([...top, ...body], o.width, o.height);
}
