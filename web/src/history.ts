import './history.css';
import type { Bucket, Sensor } from './api.js';
import { bandsFromRooms, labelOf, seriesLabels, type Labelled, type RoomTargets } from './chart-data.js';
import { HistoryCharts, RANGES, type ChartSeries, type Marker } from './chart.js';
import { csvFileName, downloadCsv, toCsv } from './csv.js';
import { mountOnTime } from './ontime.js';
import type { Panel, PanelContext } from './shell.js';

interface HistoryAnswer {
  bucketMs?: number;
  buckets: Bucket[];
}

interface JournalEntry {
  time: number;
  text: string;
  by?: string;
  location?: string;
}

const PREFS = 'canopy.history';
const DAY = 86_400_000;
const HOUR = 3_600_000;

interface Prefs {
  sensors: string[];
  /** Set only when the grower picked a range; otherwise the default depends on how much data exists. */
  rangeMs?: number;
}

function loadPrefs(catalogue: Sensor[]): Prefs {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS) ?? 'null') as Prefs | null;
    if (p && Array.isArray(p.sensors)) return p;
  } catch {
    // fall through to the defaults
  }
  const dry = catalogue.filter((s) => s.base === 'dry_bulb').map((s) => s.name);
  return { sensors: dry.length ? dry : catalogue.slice(0, 1).map((s) => s.name) };
}

/**
 * The History panel: presets, sensors grouped by room (one <details> per
 * room), the charts, journal notes as markers, a CSV of what is shown and
 * the on-time/energy bars per device and day.
 */
export function mountHistory(el: HTMLElement, ctx: PanelContext): Panel {
  const catalogue = ctx.catalogue as Labelled[];
  const byName = new Map(catalogue.map((s) => [s.name, s]));
  const prefs = loadPrefs(catalogue);
  const selected = new Set(prefs.sensors.filter((n) => byName.has(n)));
  let rangeMs = prefs.rangeMs ?? HOUR;
  let chosenRange = prefs.rangeMs !== undefined;

  const $ = <T extends HTMLElement>(sel: string) => el.querySelector<T>(sel)!;
  const chartBox = $('#chart');
  const status = $('#chart-status');
  const notes = $('#chart-notes');
  const ranges = $('#ranges');
  const charts = new HistoryCharts(chartBox);
  let abort: AbortController | undefined;

  const save = () =>
    localStorage.setItem(
      PREFS,
      JSON.stringify({ sensors: [...selected], ...(chosenRange ? { rangeMs } : {}) } satisfies Prefs),
    );

  const showNotes = (markers: Marker[]) => {
    notes.hidden = markers.length === 0;
    const items = markers.map((m) => {
      const li = document.createElement('li');
      const when = document.createElement('time');
      when.dateTime = new Date(m.time).toISOString();
      when.textContent = new Date(m.time).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
      li.append(when, ` ${m.text}`);
      if (m.by) {
        const by = document.createElement('small');
        by.className = 'muted';
        by.textContent = ` · ${m.by}`;
        li.append(by);
      }
      return li;
    });
    const h = document.createElement('h3');
    h.textContent = 'Notes in this range';
    const ul = document.createElement('ul');
    ul.append(...items);
    notes.replaceChildren(h, ul);
  };

  const journal = async (locations: string[], from: number, to: number, signal: AbortSignal): Promise<Marker[]> => {
    const lists = await Promise.all(
      locations.map((loc) =>
        ctx.api
          .get<{ entries: JournalEntry[] }>(
            `/api/journal?location=${encodeURIComponent(loc)}&from=${from}&to=${to}`,
            signal,
          )
          .then((r) => r.entries)
          // no journal (an older server, or no right to read it): no markers
          .catch(() => [] as JournalEntry[]),
      ),
    );
    return lists
      .flat()
      .map((e) => ({ time: e.time, text: e.text, by: e.by }))
      .sort((a, b) => a.time - b.time);
  };

  const reload = async () => {
    save();
    abort?.abort();
    const a = new AbortController();
    abort = a;
    const sensors = [...selected].map((n) => byName.get(n)!).filter(Boolean);
    if (sensors.length === 0) {
      charts.clear();
      chartBox.dataset.points = '0';
      status.textContent = 'Pick at least one sensor below.';
      showNotes([]);
      return;
    }
    const to = Date.now();
    const from = to - rangeMs;
    const points = charts.points();
    status.textContent = 'loading…';
    let answers: HistoryAnswer[];
    let rooms: RoomTargets[];
    let markers: Marker[];
    try {
      [answers, rooms, markers] = await Promise.all([
        Promise.all(
          sensors.map((s) =>
            ctx.api.get<HistoryAnswer>(
              `/api/sensors/${encodeURIComponent(s.name)}/history?from=${from}&to=${to}&points=${points}`,
              a.signal,
            ),
          ),
        ),
        ctx.api
          .get<{ rooms: RoomTargets[] }>('/api/rooms', a.signal)
          .then((r) => r.rooms)
          .catch(() => []),
        journal([...new Set(sensors.map((s) => s.location))], from, to, a.signal),
      ]);
    } catch (err) {
      if (a.signal.aborted) return;
      charts.clear();
      chartBox.dataset.points = '0';
      status.textContent = `History unavailable: ${(err as Error).message}`;
      return;
    }
    if (a.signal.aborted) return;
    const labels = seriesLabels(sensors);
    const series: ChartSeries[] = sensors.map((s, i) => {
      const b = answers[i]!.buckets;
      return {
        name: s.name,
        label: labels.get(s.name)!,
        unit: s.unit,
        avg: b.map((x) => ({ t: x.t, v: x.avg })),
        min: b.map((x) => ({ t: x.t, v: x.min })),
        max: b.map((x) => ({ t: x.t, v: x.max })),
      };
    });
    const bucketMs = Math.max(0, ...answers.map((x) => x.bucketMs ?? 0));
    const total = answers.reduce((n, x) => n + x.buckets.length, 0);
    chartBox.dataset.points = String(total);
    charts.render({ series, bucketMs, from, to, bands: bandsFromRooms(rooms, catalogue), markers });
    const gaps = charts.gaps();
    $('#chart-key').hidden = charts.bands() === 0 && markers.length === 0;
    status.textContent =
      total === 0
        ? 'No readings in this range.'
        : `${total} points${gaps ? ` · ${gaps} gap${gaps > 1 ? 's' : ''} without readings (shown as breaks)` : ''}`;
    showNotes(markers.filter((m) => m.time >= from && m.time <= to));
  };

  // presets
  const pressRange = () => {
    for (const b of ranges.querySelectorAll<HTMLButtonElement>('button'))
      b.setAttribute('aria-pressed', String(Number(b.dataset.ms) === rangeMs));
  };
  for (const [label, ms] of RANGES) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.range = label;
    b.dataset.ms = String(ms);
    b.onclick = () => {
      rangeMs = ms;
      chosenRange = true;
      pressRange();
      void reload();
    };
    ranges.append(b);
  }
  pressRange();

  $<HTMLButtonElement>('#csv').onclick = () => {
    const cols = charts.columns();
    if (cols.length === 0) return;
    downloadCsv(toCsv(cols), csvFileName(Date.now()));
  };

  buildPicker($('#sensor-list'), catalogue, selected, () => void reload());

  /** A new install has less than a day of data: the last hour until a day exists, then 24 h. */
  const pickDefaultRange = async () => {
    if (chosenRange) return;
    const first = [...selected][0] ?? catalogue[0]?.name;
    if (!first) return;
    const to = Date.now();
    try {
      const r = await ctx.api.get<HistoryAnswer>(
        `/api/sensors/${encodeURIComponent(first)}/history?from=${to - DAY}&to=${to}&points=24`,
      );
      const oldest = r.buckets[0]?.t;
      if (oldest !== undefined && oldest <= to - DAY + 2 * HOUR) rangeMs = DAY;
    } catch {
      // stay on the last hour
    }
    pressRange();
  };
  void pickDefaultRange().then(reload);

  const onTime = mountOnTime($('#on-time'), ctx);
  // short ranges follow the live data
  const timer = window.setInterval(() => {
    if (rangeMs <= DAY && document.visibilityState === 'visible') void reload();
  }, 60_000);
  return {
    stop() {
      window.clearInterval(timer);
      abort?.abort();
      charts.close();
      onTime.stop();
    },
  };
}

/** One <details> per room, its sensors as checkboxes with their labels (the name as a hint). */
function buildPicker(list: HTMLElement, catalogue: Labelled[], selected: Set<string>, changed: () => void): void {
  const rooms = new Map<string, Labelled[]>();
  for (const s of catalogue) {
    const key = s.cluster === 'main' ? s.location : `${s.location} · ${s.cluster}`;
    rooms.set(key, [...(rooms.get(key) ?? []), s]);
  }
  const counts: Array<() => void> = [];
  for (const [room, sensors] of rooms) {
    const d = document.createElement('details');
    d.className = 'picker-room';
    const summary = document.createElement('summary');
    const name = document.createElement('span');
    name.textContent = room;
    const count = document.createElement('span');
    count.className = 'picker-count';
    const recount = () => {
      const n = sensors.filter((s) => selected.has(s.name)).length;
      count.textContent = n ? `${n} on chart` : '';
    };
    counts.push(recount);
    summary.append(name, count);
    const grid = document.createElement('div');
    grid.className = 'sensor-list';
    for (const s of sensors) {
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = s.name;
      box.checked = selected.has(s.name);
      box.onchange = () => {
        if (box.checked) selected.add(s.name);
        else selected.delete(s.name);
        recount();
        changed();
      };
      const text = document.createElement('span');
      text.textContent = labelOf(s);
      const hint = document.createElement('small');
      hint.className = 'muted';
      hint.textContent = `${s.unit}${labelOf(s) === s.name ? '' : ` · ${s.name}`}`;
      label.append(box, text, hint);
      grid.append(label);
    }
    d.append(summary, grid);
    // rooms with a sensor on the chart start open on a wide screen; on a phone all start closed
    d.open = window.innerWidth >= 600 && sensors.some((s) => selected.has(s.name));
    list.append(d);
    recount();
  }
}
