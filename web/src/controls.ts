/**
 * Device controls and setpoint editing (operator token). Commands go to
 * POST /api/devices/:name and PUT /api/setpoints/:name; the token is kept
 * in this tab's sessionStorage only. The panel polls the read endpoints.
 */
import { TOKEN_KEY } from './api.js';

interface DeviceRow {
  device: string;
  location: string;
  cluster: string;
  state: number;
  mode: string;
}
interface SetpointRow {
  name: string;
  value: number;
  min: number | null;
  max: number | null;
  unit: string | null;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, unknown> = {},
  ...kids: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e: HTMLElementTagNameMap[K] = document.createElement(tag);
  Object.assign(e, props);
  e.append(...kids);
  return e;
}

async function send(method: 'POST' | 'PUT', url: string, body: unknown, token: string): Promise<string> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (res.ok) return 'sent';
  let msg = `${res.status}`;
  try {
    msg = ((await res.json()) as { message?: string }).message ?? msg;
  } catch {
    // not JSON
  }
  if (res.status === 401) return `refused: ${msg} (enter an operator token above)`;
  if (res.status === 403) return `refused: this token may not control devices (${msg})`;
  return `refused: ${msg}`;
}

function authHeader(): Record<string, string> {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** Wide tables scroll inside the panel instead of widening the page (phones). */
function scroller(table: HTMLElement): HTMLElement {
  const box = el('div', {}, table);
  box.style.overflowX = 'auto';
  box.style.maxWidth = '100%';
  return box;
}

export function mountControls(root: HTMLElement): void {
  root.style.minWidth = '0'; // a grid item: let the tables scroll instead of widening the page
  const token = el('input', { type: 'password', placeholder: 'viewer or operator token', autocomplete: 'off' });
  token.id = 'token';
  token.style.maxWidth = '100%';
  token.value = sessionStorage.getItem(TOKEN_KEY) ?? '';
  token.onchange = () => {
    sessionStorage.setItem(TOKEN_KEY, token.value.trim());
    window.dispatchEvent(new Event('canopy-token'));
  };
  const status = el(
    'p',
    { className: 'muted' },
    'Commands need an operator token; beyond this machine, reading needs a viewer token too.',
  );
  const ttl = el('select');
  // A manual command always expires unless "until changed" is chosen explicitly (refused for heaters and CO2).
  for (const [label, s] of [
    ['for 1 h', '3600'],
    ['for 15 min', '900'],
    ['for 8 h', '28800'],
    ['until changed', 'until_changed'],
  ] as const)
    ttl.add(new Option(label, s));
  const devices = el('table', { className: 'controls' });
  const setpoints = el('table', { className: 'controls' });
  root.append(
    el('h2', {}, 'Control'),
    el('label', {}, 'Token ', token),
    ' ',
    el('label', {}, 'Manual commands last ', ttl),
    status,
    el('h3', {}, 'Devices'),
    scroller(devices),
    el('h3', {}, 'Setpoints'),
    scroller(setpoints),
  );

  const command = async (device: string, body: Record<string, unknown>) => {
    if (body.mode !== 'auto')
      Object.assign(body, ttl.value === 'until_changed' ? { until_changed: true } : { ttl_s: Number(ttl.value) });
    status.textContent = `${device}: ${await send('POST', `/api/devices/${encodeURIComponent(device)}`, body, token.value.trim())}`;
    void refreshDevices();
  };

  const refreshDevices = async () => {
    const r = await fetch('/api/devices', { headers: authHeader() }).catch(() => undefined);
    if (!r?.ok) return;
    const list = ((await r.json()) as { devices: DeviceRow[] }).devices.sort((a, b) =>
      a.device.localeCompare(b.device),
    );
    devices.replaceChildren(
      ...list.map((d) => {
        const b = (label: string, body: Record<string, unknown>) =>
          el('button', { type: 'button', textContent: label, onclick: () => void command(d.device, body) });
        const row = el(
          'tr',
          { className: d.state ? 'on' : 'off' },
          el('td', {}, d.device),
          el('td', { className: 'muted' }, `${d.location} / ${d.cluster}`),
          el('td', {}, d.state ? 'ON' : 'OFF'),
          el('td', {}, d.mode),
          el(
            'td',
            {},
            b('On', { mode: 'manual', state: 1 }),
            b('Off', { mode: 'manual', state: 0 }),
            b('Auto', { mode: 'auto' }),
            b('Disable', { mode: 'off' }),
          ),
        );
        row.dataset.device = d.device;
        return row;
      }),
    );
  };

  const refreshSetpoints = async () => {
    const r = await fetch('/api/setpoints', { headers: authHeader() }).catch(() => undefined);
    if (!r?.ok) return;
    const list = ((await r.json()) as { setpoints: SetpointRow[] }).setpoints;
    setpoints.replaceChildren(
      ...list.map((s) => {
        const input = el('input', { type: 'number', value: String(s.value), step: 'any', size: 6 });
        if (s.min !== null) input.min = String(s.min);
        if (s.max !== null) input.max = String(s.max);
        const save = el('button', {
          type: 'button',
          textContent: 'Set',
          onclick: async () => {
            const v = Number(input.value);
            status.textContent = `${s.name}: ${await send('PUT', `/api/setpoints/${encodeURIComponent(s.name)}`, { value: v }, token.value.trim())}`;
          },
        });
        const range = `${s.min ?? '−∞'} … ${s.max ?? '∞'} ${s.unit ?? ''}`;
        const row = el(
          'tr',
          {},
          el('td', {}, s.name),
          el('td', {}, input, ' ', save),
          el('td', { className: 'muted' }, range),
        );
        row.dataset.setpoint = s.name;
        return row;
      }),
    );
  };

  void refreshDevices();
  void refreshSetpoints();
  window.setInterval(() => void refreshDevices(), 3000);
  window.setInterval(() => {
    // do not overwrite a value being edited
    if (!setpoints.contains(document.activeElement)) void refreshSetpoints();
  }, 15_000);
}

const host = document.getElementById('controls');
if (host) mountControls(host);
