import './style.css';
import { api, TOKEN_KEY, type Device } from './api.js';
import { mountControls } from './controls.js';
import { mountHistory } from './history.js';
import './schedules.js';
import { mountServices } from './services.js';
import { mountAlerts } from './alerts.js';
import { mountJournal } from './journal.js';
import { RelaysPanel } from './relays.js';
import { mountKiosk } from './kiosk.js';
import { mountRooms } from './rooms.js';
import { createShell, mount, type LiveMessage } from './shell.js';
import { Trends } from './trends.js';

const $ = (id: string) => document.getElementById(id)!;

async function main(): Promise<void> {
  const catalogue = await api.sensors();
  const ctx = createShell(catalogue);
  // one import and one mount line per panel
  mount('rooms', mountRooms, ctx);
  mount('kiosk', mountKiosk, ctx);
  mount('devices', mountControls, ctx);
  mount('history', mountHistory, ctx);
  mount('alerts', mountAlerts, ctx);
  mount('journal', mountJournal, ctx);
  mount('services', mountServices, ctx);
  new Trends(catalogue).start();
  new RelaysPanel($('relays')).start();

  // relays that switch nothing physical: a banner, from the devices' own updates
  const devices = new Map<string, Device>();
  const banner = $('sim-banner');
  const addDevices = (list: Device[]) => {
    for (const d of list) devices.set(d.device, d);
    const simulated = [...devices.values()].filter((d) => d.simulated === true);
    banner.hidden = simulated.length === 0;
    // a short line on a phone: the names only when few, all of them on hover
    const names = simulated.map((d) => d.label ?? d.device);
    $('sim-reason').textContent =
      names.length === 0 ? '' : names.length <= 3 ? ` (${names.join(', ')})` : ` (${names.length} devices)`;
    banner.title = names.join(', ');
  };
  addDevices(await api.devices().catch(() => []));
  ctx.live.on<LiveMessage & { data: Device }>('device', (m) => addDevices([m.data]));
  ctx.live.on<LiveMessage & { devices: Device[] }>('hello', (m) => addDevices(m.devices));
  const conn = $('conn');
  ctx.live.onState((state) => {
    conn.dataset.state = state;
    conn.textContent = state === 'open' ? 'live' : state === 'connecting' ? 'connecting…' : 'reconnecting…';
  });
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
