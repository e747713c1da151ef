/** Times and numbers as a grower reads them (the alerts, journal and services panels). */

/** `now`, `42 s`, `12 min`, `3 h`, `2 d`. */
export function formatAge(ms: number): string {
  if (ms < 1000) return 'now';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

const sameDay = (a: Date, b: Date) =>
  a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

/** `14:05` today, `Mon 14:05` within a week, else `1 Dec 14:05` (the browser's time zone). */
export function formatWhen(t: number, now = Date.now()): string {
  const d = new Date(t);
  const hm = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (sameDay(d, new Date(now))) return hm;
  if (Math.abs(now - t) < 6 * 86400_000) return `${d.toLocaleDateString(undefined, { weekday: 'short' })} ${hm}`;
  return `${d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })} ${hm}`;
}

/** A reading with at most two decimals, no trailing zeros: `34.5`, `1200`, `1.25`. */
export function formatNumber(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** `<tag class=…>text</tag>`. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
