import './style.css';
import { api, TOKEN_KEY, type Device, type Sensor } from './api.js';
import { HistoryChart, RANGES, STAGES } from './chart.js';
import { mountControls } from './controls.js';
import './schedules.js';
import './services.js';
import { RelaysPanel } from './relays.js';
import { mountKiosk } from './kiosk.js';
import { mountRooms } from './rooms.js';
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
  mount('rooms', mountRooms, ctx);
  mount('kiosk', mountKiosk, ctx);
  mount('devices', mountControls, ctx);
  new Trends(catalogue).start();
  new RelaysPanel($('relays')).start();

  // relays that switch nothing physical: a banner, from the devices' own updates
  const devices = new Map<string, Device>();
  const banner = $('sim-banner');
  const addDevices = (list: Device[]) => {
    for (const d of list) devices.set(d.device, d);
    const simulated = [...devices.values()].filter((d) => d.simulated === true);
    banner.hidden = simulated.length === 0;
    $('sim-reason').textContent = simulated.length
      ? ` (${simulated.map((d) => d.device).join(', ')}${simulated[0]!.reason ? `: ${simulated[0]!.reason}` : ''})`
      : '';
  };
  addDevices(await api.devices().catch(() => []));
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
  // typically 401: reads need a token here (the API is reachable beyond this machine)
  const box = document.getElementById('rooms');
  if (!box) return;
  const form = document.createElement('form');
  form.className = 'start-token cycle-form';
  const input = document.createElement('input');
  input.id = 'start-token';
  input.type = 'password';
  input.autocomplete = 'off';
  input.placeholder = 'viewer or operator token';
  input.setAttribute('aria-label', 'token');
  const go = document.createElement('button');
  go.type = 'submit';
  go.textContent = 'Open';
  form.append(input, go);
  form.onsubmit = (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    location.reload();
  };
  const p = document.createElement('p');
  p.textContent = `The dashboard could not start: ${(err as Error).message}. Enter a viewer or operator token (the quick start prints where it keeps the operator token):`;
  box.replaceChildren(p, form);
  // a token entered elsewhere on the page: start again with it
  window.addEventListener('canopy-token', () => location.reload(), { once: true });
});
