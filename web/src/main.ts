import './style.css';
import { api, type Device } from './api.js';
import { RoomCards } from './cards.js';
import { mountControls } from './controls.js';
import { mountHistory } from './history.js';
import './schedules.js';
import './services.js';
import { RelaysPanel } from './relays.js';
import { createShell, mount, type LiveMessage } from './shell.js';
import { Trends } from './trends.js';

const $ = (id: string) => document.getElementById(id)!;

async function main(): Promise<void> {
  const catalogue = await api.sensors();
  const ctx = createShell(catalogue);
  // one import and one mount line per panel
  mount('devices', mountControls, ctx);
  mount('history', mountHistory, ctx);
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
}

main().catch((err: unknown) => {
  const box = document.getElementById('rooms');
  if (box) {
    box.textContent = `The dashboard could not start: ${(err as Error).message}. Enter a token in the Control panel; the page reloads.`;
  }
  // a token entered after a refusal: start again with it
  window.addEventListener('canopy-token', () => location.reload(), { once: true });
});
