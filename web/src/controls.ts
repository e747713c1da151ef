/**
 * The "Devices and control" panel (#devices): the token entry (kept in this
 * tab's sessionStorage only), how long manual commands last, the one device
 * list (devices.ts) and the setpoints. Commands go to POST /api/devices/:name
 * and PUT /api/setpoints/:name with the operator token.
 */
import { DeviceList, type Expiry } from './devices.js';
import { ApiError, type PanelContext, type Role } from './shell.js';
import { el as h } from './when.js';

interface SetpointRow {
  name: string;
  label?: string;
  value: number;
  min: number | null;
  max: number | null;
  unit: string | null;
}

const ROLE_TEXT: Record<'operator' | 'viewer' | 'none', string> = {
  operator: 'Operator: you can switch devices and change setpoints.',
  viewer: 'Viewer token: read-only. Enter an operator token to switch devices.',
  none: 'Read-only. Enter an operator token to switch devices.',
};

const refusal = (err: unknown): string =>
  err instanceof ApiError && err.status === 401
    ? 'refused: enter an operator token above'
    : err instanceof ApiError && err.status === 403
      ? 'refused: this token may only read'
      : `refused: ${(err as Error).message}`;

export function mountControls(root: HTMLElement, ctx: PanelContext): { stop(): void } {
  root.classList.add('dev-panel');
  const token = h('input');
  token.type = 'password';
  token.id = 'token';
  token.placeholder = 'viewer or operator token';
  token.autocomplete = 'off';
  token.value = ctx.token();
  token.onchange = () => ctx.setToken(token.value);
  const roleText = h('span', 'dev-role muted');
  const ttl = h('select');
  ttl.id = 'manual-expiry';
  // a manual command always expires unless "until changed" is chosen explicitly (refused for heaters and CO2)
  for (const [label, v] of [
    ['1 h', '3600'],
    ['15 min', '900'],
    ['8 h', '28800'],
    ['until changed', 'until_changed'],
  ] as const)
    ttl.add(new Option(label, v));
  const bar = h('div', 'dev-bar');
  const tokenLabel = h('label', '', 'Token ');
  tokenLabel.append(token);
  const ttlLabel = h('label', 'operator-only', 'Manual commands last ');
  ttlLabel.append(ttl);
  bar.append(tokenLabel, roleText, ttlLabel);

  const list = h('div');
  const setpoints = h('div', 'sp-list');
  const spBox = h('details', 'sp-box');
  spBox.append(h('summary', '', 'Setpoints'), setpoints);
  const spStatus = h('p', 'muted sp-status');
  spStatus.setAttribute('role', 'status');
  spBox.append(spStatus);
  root.replaceChildren(h('h2', '', 'Devices and control'), bar, list, spBox);

  const expiry = (): Expiry => (ttl.value === 'until_changed' ? { until_changed: true } : { ttl_s: Number(ttl.value) });
  const devices = new DeviceList(list, ctx, { expiry });

  let role: Role = null;
  const renderSetpoints = (rows: SetpointRow[]) => {
    setpoints.replaceChildren(
      ...rows.map((s) => {
        const row = h('div', 'sp-row');
        row.dataset.setpoint = s.name;
        const name = h('span', 'sp-name', s.label ?? s.name);
        if (s.label && s.label !== s.name) name.append(' ', h('small', 'muted', s.name));
        const range = h('small', 'muted', `${s.min ?? '−∞'} … ${s.max ?? '∞'}${s.unit ? ` ${s.unit}` : ''}`);
        const value = h('div', 'sp-value');
        if (role === 'operator') {
          const input = h('input');
          input.type = 'number';
          input.step = 'any';
          input.inputMode = 'decimal';
          input.value = String(s.value);
          input.setAttribute('aria-label', s.label ?? s.name);
          if (s.min !== null) input.min = String(s.min);
          if (s.max !== null) input.max = String(s.max);
          const save = h('button', '', 'Set');
          save.type = 'button';
          save.onclick = async () => {
            try {
              await ctx.api.send('PUT', `/api/setpoints/${encodeURIComponent(s.name)}`, { value: Number(input.value) });
              spStatus.textContent = `${s.name}: sent ${input.value}${s.unit ? ` ${s.unit}` : ''}`;
            } catch (err) {
              spStatus.textContent = `${s.name}: ${refusal(err)}`;
            }
          };
          value.append(input, h('span', 'sp-unit', s.unit ?? ''), save);
        } else value.append(h('strong', '', `${s.value}${s.unit ? ` ${s.unit}` : ''}`));
        row.append(name, value, range);
        return row;
      }),
    );
  };
  let last: SetpointRow[] = [];
  const refreshSetpoints = async () => {
    // do not overwrite a value being edited
    if (setpoints.contains(document.activeElement)) return;
    try {
      last = (await ctx.api.get<{ setpoints: SetpointRow[] }>('/api/setpoints')).setpoints;
      renderSetpoints(last);
    } catch {
      // shown again at the next refresh
    }
  };
  const stopRole = ctx.onRole((r) => {
    role = r;
    roleText.textContent = ROLE_TEXT[r ?? 'none'];
    root.dataset.role = r ?? 'none';
    ttlLabel.hidden = r !== 'operator';
    renderSetpoints(last);
  });
  void refreshSetpoints();
  const timer = window.setInterval(() => void refreshSetpoints(), 15_000);
  return {
    stop() {
      window.clearInterval(timer);
      stopRole();
      devices.stop();
    },
  };
}
