import './style.css';
import { api, type Device, type Sensor } from './api.js';
import { RoomCards } from './cards.js';
import { HistoryChart, RANGES, STAGES } from './chart.js';
import { mountControls } from './controls.js';
import './schedules.js';
import './services.js';
import { RelaysPanel } from './relays.js';
import { createShell, mount, type LiveMessage } from './shell.js';
import { Trends } from './trends.js';

const $ = (id: string) => document.getElementById(id)!;

const PREFS = 'canopy.dashboard';

interface Prefs {
  sensors: string[];
  rangeMs: number;
  stage: string;
}

function loadPrefs(catalogue: Sensor[]): Prefs {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS) ?? 'null') as Prefs | null;
    if (p && Array.isArray(p.sensors)) return p;
  } catch {
    // fall through to the defaults
  }
  const dry = catalogue.filter((s) => s.base === 'dry_bulb').map((s) => s.name);
  return { sensors: dry.length ? dry : catalogue.slice(0, 1).map((s) => s.name), rangeMs: 86400_000, stage: 'none' };
}

async function main(): Promise<void> {
  const catalogue = await api.sensors();
  const byName = new Map(catalogue.map((s) => [s.name, s]));
  const ctx = createShell(catalogue);
  // one import and one mount line per panel
  mount('devices', mountControls, ctx);
  const cards = new RoomCards($('rooms'), catalogue);
  new Trends(catalogue).start();
  new RelaysPanel($('relays')).start();
  const devices = new Map<string, Device>();
  const banner = $('sim-banner');
  const showDevices = () => {
    const list = [...devices.values()];
    const simulated = list.filter((d) => d.simulated === true);
    banner.hidden = simulated.length === 0;
    $('sim-reason').textContent = simulated.length
      ? ` (${simulated.map((d) => d.device).join(', ')}${simulated[0]!.reason ? `: ${simulated[0]!.reason}` : ''})`
      : '';
    cards.devices(list);
  };
  const addDevices = (list: Device[]) => {
    for (const d of list) devices.set(d.device, d);
    showDevices();
  };

  const refreshLive = async () => {
    try {
      const live = await api.live();
      cards.staleAfterMs = live.staleAfterMs;
      // the server's clock decides the age: shift its timestamps onto ours
      const skew = Date.now() - live.now;
      for (const l of live.sensors) if (l.value !== null && l.ts !== null) cards.set(l.name, l.value, l.ts + skew);
      cards.tick();
    } catch {
      // the next refresh or /ws will bring values
    }
  };
  await refreshLive();
  addDevices(await api.devices().catch(() => []));
  window.setInterval(refreshLive, 15_000);
  window.setInterval(() => cards.tick(), 1000);

  ctx.live.on<LiveMessage & { data: { timestamp: string; sensor_data: Record<string, number> } }>('sensor', (m) => {
    const ts = Date.parse(m.data.timestamp);
    for (const [name, v] of Object.entries(m.data.sensor_data)) cards.set(name, v, Math.min(ts, Date.now()));
  });
  ctx.live.on<LiveMessage & { data: Device }>('device', (m) => addDevices([m.data]));
  ctx.live.on<LiveMessage & { devices: Device[] }>('hello', (m) => addDevices(m.devices));
  const conn = $('conn');
  ctx.live.onState((state) => {
    conn.dataset.state = state;
    conn.textContent = state === 'open' ? 'live' : state === 'connecting' ? 'connecting…' : 'reconnecting…';
  });

  // history chart
  const prefs = loadPrefs(catalogue);
  const chart = new HistoryChart($('chart'), $('chart-status'));
  chart.stage = STAGES[prefs.stage] ? prefs.stage : 'none';
  const selected = new Set(prefs.sensors.filter((n) => byName.has(n)));
  let rangeMs = prefs.rangeMs;
  const save = () =>
    localStorage.setItem(
      PREFS,
      JSON.stringify({ sensors: [...selected], rangeMs, stage: chart.stage } satisfies Prefs),
    );
  const reload = () => {
    save();
    void chart.load([...selected].map((n) => byName.get(n)!).filter(Boolean), rangeMs);
  };

  const ranges = $('ranges');
  for (const [label, ms] of RANGES) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.range = label;
    b.setAttribute('aria-pressed', String(ms === rangeMs));
    b.onclick = () => {
      rangeMs = ms;
      for (const x of ranges.querySelectorAll('button')) x.setAttribute('aria-pressed', String(x === b));
      reload();
    };
    ranges.append(b);
  }

  const stage = $('stage') as HTMLSelectElement;
  for (const [key, s] of Object.entries(STAGES)) stage.add(new Option(s.label, key, false, key === chart.stage));
  stage.onchange = () => {
    chart.stage = stage.value;
    reload();
  };

  const list = $('sensor-list');
  for (const s of catalogue) {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = s.name;
    box.checked = selected.has(s.name);
    box.onchange = () => {
      if (box.checked) selected.add(s.name);
      else selected.delete(s.name);
      reload();
    };
    label.append(box, ` ${s.name}`);
    label.title = `${s.location} / ${s.cluster} (${s.unit})`;
    list.append(label);
  }
  reload();
  // short ranges follow the live data
  window.setInterval(() => {
    if (rangeMs <= 86400_000 && document.visibilityState === 'visible') reload();
  }, 60_000);
}

main().catch((err: unknown) => {
  const box = document.getElementById('rooms');
  if (box) {
    box.textContent = `The dashboard could not start: ${(err as Error).message}. Enter a token in the Control panel; the page reloads.`;
  }
  // a token entered after a refusal: start again with it
  window.addEventListener('canopy-token', () => location.reload(), { once: true });
});
