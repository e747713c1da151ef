import type { PanelContext } from './shell.js';

/** One device's day as GET /api/on-time gives it. */
interface Day {
  date: string;
  hours: number;
  energyKwh: number | null;
}

/** Who a device is (GET /api/on-time `about`). */
interface About {
  label?: string;
  location?: string;
  cluster?: string;
}

/** How many days the bars show, today included. */
export const ON_TIME_DAYS = 7;

/** The last `n` local dates (YYYY-MM-DD), oldest first, ending at `now`'s day. */
export function lastDays(now: Date, n: number): string[] {
  const out: string[] = [];
  for (let i = n - 1; i >= 0; i--) {
    const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() - i);
    const p = (x: number) => String(x).padStart(2, '0');
    out.push(`${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`);
  }
  return out;
}

const fmtHours = (h: number): string => (h < 10 ? h.toFixed(1) : h.toFixed(0));

/**
 * On-time and energy per device and day: for every device (grouped by its
 * room, by its label) a bar per day of the last week, height the hours on
 * (of 24), with the hours and kWh on hover/tap and the week's totals.
 */
export function mountOnTime(el: HTMLElement, ctx: PanelContext): { stop(): void } {
  let stopped = false;
  const load = async () => {
    let answer: { devices: Record<string, Day[]>; about?: Record<string, About> };
    try {
      answer = await ctx.api.get('/api/on-time');
    } catch (err) {
      if (!stopped) el.replaceChildren(heading(), note(`On-time unavailable: ${(err as Error).message}`));
      return;
    }
    if (stopped) return;
    render(el, answer.devices, answer.about ?? {});
  };
  void load();
  const timer = window.setInterval(() => {
    if (document.visibilityState === 'visible') void load();
  }, 300_000);
  return {
    stop() {
      stopped = true;
      window.clearInterval(timer);
    },
  };
}

function heading(): HTMLElement {
  const h = document.createElement('h3');
  h.textContent = `Devices: hours on per day (last ${ON_TIME_DAYS} days)`;
  return h;
}

function note(text: string): HTMLElement {
  const p = document.createElement('p');
  p.className = 'muted';
  p.textContent = text;
  return p;
}

function render(el: HTMLElement, days: Record<string, Day[]>, about: Record<string, About>): void {
  const info = new Map(Object.entries(about));
  const dates = lastDays(new Date(), ON_TIME_DAYS);
  const names = Object.keys(days);
  if (names.length === 0) {
    el.replaceChildren(heading(), note('No devices configured.'));
    return;
  }
  const rooms = new Map<string, string[]>();
  for (const n of names) {
    const room = info.get(n)?.location ?? 'Other devices';
    rooms.set(room, [...(rooms.get(room) ?? []), n]);
  }
  const parts: HTMLElement[] = [heading()];
  const idle: string[] = [];
  for (const [room, list] of rooms) {
    const rows: HTMLElement[] = [];
    for (const name of list) {
      const r = row(name, info.get(name), days[name] ?? [], dates);
      if (r) rows.push(r);
      else idle.push(info.get(name)?.label?.trim() || name);
    }
    if (rows.length === 0) continue;
    const h = document.createElement('h4');
    h.textContent = room;
    const table = document.createElement('div');
    table.className = 'on-time-room';
    table.append(...rows);
    parts.push(h, table);
  }
  // devices never on this week: one line, not a column of empty bars
  if (idle.length) {
    const p = note(`Off all week: ${idle.join(', ')}`);
    p.classList.add('on-time-idle');
    parts.push(p);
  }
  el.replaceChildren(...parts);
}

/** A device's bars, or null when it was off every day shown. */
function row(name: string, about: About | undefined, list: Day[], dates: string[]): HTMLElement | null {
  const byDate = new Map(list.map((d) => [d.date, d]));
  if (!dates.some((d) => (byDate.get(d)?.hours ?? 0) > 0)) return null;
  // a <details>: tap the row for the figures of each day (a phone shows no hover titles)
  const row = document.createElement('details');
  row.className = 'on-time-device';
  row.dataset.device = name;
  const head = document.createElement('summary');
  head.className = 'on-time-row';
  const perDay = document.createElement('ul');
  perDay.className = 'on-time-days';
  const label = document.createElement('span');
  label.className = 'on-time-label';
  label.textContent = about?.label?.trim() || name;
  label.title = name;
  const bars = document.createElement('span');
  bars.className = 'on-time-bars';
  let hours = 0;
  let kwh = 0;
  let anyKwh = false;
  for (const date of dates) {
    const d = byDate.get(date);
    const h = d?.hours ?? 0;
    hours += h;
    if (typeof d?.energyKwh === 'number') {
      kwh += d.energyKwh;
      anyKwh = true;
    }
    const bar = document.createElement('span');
    bar.className = 'on-time-bar';
    bar.style.setProperty('--h', String(Math.min(1, h / 24)));
    const energy = typeof d?.energyKwh === 'number' ? `, ${d.energyKwh.toFixed(2)} kWh` : '';
    bar.title = `${date}: ${fmtHours(h)} h on${energy}`;
    bar.dataset.date = date;
    bar.dataset.hours = h.toFixed(2);
    bars.append(bar);
    const li = document.createElement('li');
    li.textContent = bar.title;
    perDay.append(li);
  }
  const total = document.createElement('span');
  total.className = 'on-time-total';
  total.textContent = `${fmtHours(hours)} h${anyKwh ? ` · ${kwh.toFixed(1)} kWh` : ''}`;
  head.append(label, bars, total);
  row.append(head, perDay);
  return row;
}
