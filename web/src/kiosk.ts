/**
 * Kiosk view (`/#kiosk`): a wall-mounted touchscreen readable across the
 * room — each room's status, its key values large with their targets, and
 * its alarms, live. No controls and no way into the dashboard until an
 * operator token unlocks it; "Lock" forgets the token again.
 */
import { RoomsFeed, STATUS_WORD, type RoomView } from './rooms-data.js';
import { keyTile, updateKeyTile } from './rooms.js';
import { el } from './when.js';
import type { PanelContext } from './shell.js';

export const isKiosk = (): boolean => location.hash === '#kiosk' || location.pathname === '/kiosk';

/** Stage, week/day and the lights, in one line under the values. */
function subLine(r: RoomView): string {
  const lights = r.key.find((k) => k.quantity === 'lights');
  const stage = r.cycle ? `${r.cycle.stage} · ${r.cycle.label}` : (r.stage ?? '');
  const l = lights && lights.value !== null ? `lights ${lights.text ?? (lights.value ? 'on' : 'off')}` : '';
  return [stage, l].filter(Boolean).join(' · ');
}

const tiles = (r: RoomView) => r.key.filter((k) => k.quantity !== 'lights');

function roomBox(r: RoomView): HTMLElement {
  const box = el('section', 'k-room');
  box.dataset.room = `${r.location}/${r.cluster}`;
  box.dataset.status = r.status;
  const head = el('header', 'k-head');
  const chip = el('span', 'chip big', STATUS_WORD[r.status]);
  chip.dataset.status = r.status;
  head.append(el('h2', undefined, r.label), chip);
  const keys = el('dl', 'k-keys');
  for (const k of tiles(r)) keys.append(keyTile(k, 'key k-key'));
  const alerts = el('ul', 'k-alerts');
  for (const a of r.alerts) {
    const li = el('li', 'room-alert', a.message);
    li.dataset.severity = a.severity;
    alerts.append(li);
  }
  alerts.hidden = r.alerts.length === 0;
  const sub = el('p', 'k-cycle', subLine(r));
  box.append(head, alerts, keys, sub);
  return box;
}

function updateRoomBox(box: HTMLElement, r: RoomView): boolean {
  if (box.querySelectorAll('[data-quantity]').length !== tiles(r).length) return false;
  box.dataset.status = r.status;
  const chip = box.querySelector<HTMLElement>('.chip')!;
  chip.dataset.status = r.status;
  chip.textContent = STATUS_WORD[r.status];
  for (const k of tiles(r)) {
    const tile = box.querySelector<HTMLElement>(`[data-quantity="${k.quantity}"]`);
    if (!tile) return false;
    updateKeyTile(tile, k);
  }
  const alerts = box.querySelector<HTMLElement>('.k-alerts')!;
  alerts.replaceChildren(
    ...r.alerts.map((a) => {
      const li = el('li', 'room-alert', a.message);
      li.dataset.severity = a.severity;
      return li;
    }),
  );
  alerts.hidden = r.alerts.length === 0;
  box.querySelector('.k-cycle')!.textContent = subLine(r);
  return true;
}

/** Panel mount for #kiosk: shown (and the dashboard hidden) while the address is /#kiosk. */
export function mountKiosk(root: HTMLElement, ctx: PanelContext): { stop(): void } {
  const top = el('header', 'k-top');
  const clock = el('span', 'k-clock');
  const live = el('span', 'conn');
  const unlock = el('button', 'k-unlock', 'Unlock');
  unlock.type = 'button';
  const exit = el('a', 'k-exit', 'Dashboard');
  exit.href = '#';
  const lock = el('button', 'k-lock', 'Lock');
  lock.type = 'button';
  const form = el('form', 'k-token');
  const token = el('input');
  token.type = 'password';
  token.placeholder = 'operator token';
  token.autocomplete = 'off';
  token.setAttribute('aria-label', 'operator token');
  const ok = el('button', undefined, 'Unlock');
  ok.type = 'submit';
  form.append(token, ok);
  form.hidden = true;
  top.append(el('h1', undefined, 'Canopy'), clock, live, unlock, exit, lock);
  const grid = el('div', 'k-grid');
  root.replaceChildren(top, form, grid);

  unlock.onclick = () => {
    form.hidden = !form.hidden;
    if (!form.hidden) token.focus();
  };
  form.onsubmit = (ev) => {
    ev.preventDefault();
    ctx.setToken(token.value);
    token.value = '';
    form.hidden = true;
  };
  lock.onclick = () => ctx.setToken('');
  const offRole = ctx.onRole((r) => {
    const open = r === 'operator';
    root.dataset.unlocked = String(open);
    exit.hidden = !open;
    lock.hidden = !open;
    unlock.hidden = open;
  });
  const offState = ctx.live.onState((s) => {
    live.dataset.state = s;
    live.textContent = s === 'open' ? 'live' : 'reconnecting…';
  });

  const boxes = new Map<string, HTMLElement>();
  const feed = new RoomsFeed(ctx);
  feed.onChange((rooms, error) => {
    grid.dataset.outdated = String(Boolean(error));
    for (const r of rooms) {
      const id = `${r.location}/${r.cluster}`;
      const old = boxes.get(id);
      if (old && updateRoomBox(old, r)) continue;
      const box = roomBox(r);
      if (old) old.replaceWith(box);
      else grid.append(box);
      boxes.set(id, box);
    }
  });
  let running = false;
  const show = () => {
    const on = isKiosk();
    root.hidden = !on;
    document.body.classList.toggle('kiosk-mode', on);
    // the feed runs only while the kiosk is shown
    if (on && !running) feed.start();
    else if (!on && running) feed.stop();
    running = on;
  };
  show();
  window.addEventListener('hashchange', show);
  const tick = () =>
    (clock.textContent = new Date().toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }));
  tick();
  const timer = window.setInterval(tick, 10_000);
  return {
    stop: () => {
      if (running) feed.stop();
      offRole();
      offState();
      window.clearInterval(timer);
      window.removeEventListener('hashchange', show);
    },
  };
}
