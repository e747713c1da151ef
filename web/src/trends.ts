import { storedToken, type Sensor } from './api.js';

/** A threshold with its estimate, as GET /api/analytics gives it (src/services/analytics/thresholds.ts). */
interface Eta {
  name: string;
  value: number;
  crossing: 'above' | 'below';
  crossed: boolean;
  eta_s: number | null;
}

interface SensorTrend {
  trend: { slope_per_h: number | null };
  thresholds: Eta[];
  next: Eta | null;
}

const DECIMALS: Record<string, number> = { co2: 0, pressure: 1, vpd: 2 };

/** `~45 min`, `~2 h 10 min`, `~1 d`. */
export function formatEta(s: number): string {
  if (s < 90) return '~1 min';
  const min = Math.round(s / 60);
  if (min < 60) return `~${min} min`;
  const h = Math.floor(min / 60);
  if (h >= 24) return `~${Math.round(h / 24)} d`;
  const rest = min % 60;
  return rest ? `~${h} h ${rest} min` : `~${h} h`;
}

/** Arrow, slope per hour and the threshold in reach, for one sensor with a target. */
export function describeTrend(
  t: SensorTrend,
  unit: string,
  base: string,
): { arrow: string; dir: 'up' | 'down' | 'flat'; slope: string; eta: string } {
  const d = DECIMALS[base] ?? 1;
  const slope = t.trend.slope_per_h;
  const shown = slope === null ? 0 : Number(slope.toFixed(d));
  const dir = shown > 0 ? 'up' : shown < 0 ? 'down' : 'flat';
  const arrow = dir === 'up' ? '↑' : dir === 'down' ? '↓' : '→';
  const u = unit ? ` ${unit}` : '';
  const slopeText = slope === null ? '' : `${shown > 0 ? '+' : ''}${shown.toFixed(d)}${u}/h`;
  let eta = '';
  const crossed = t.thresholds.find((x) => x.crossed);
  if (crossed) eta = `${crossed.crossing === 'above' ? 'above' : 'below'} ${crossed.value}${u}`;
  else if (t.next && t.next.eta_s !== null) eta = `reaches ${t.next.value}${u} in ${formatEta(t.next.eta_s)}`;
  return { arrow, dir, slope: slopeText, eta };
}

/**
 * Trends beside the live values: for every sensor that has a target
 * (limit, setpoint, alert level, VPD band), an arrow, the slope per hour
 * and "reaches 30 °C in ~45 min" when the trend approaches a threshold.
 * Polls GET /api/analytics; shows nothing while analytics is not running.
 */
export class Trends {
  readonly #sensors: Map<string, Sensor>;

  constructor(catalogue: Sensor[]) {
    this.#sensors = new Map(catalogue.map((s) => [s.name, s]));
  }

  start(everyMs = 15_000): void {
    void this.refresh();
    window.setInterval(() => {
      if (document.visibilityState === 'visible') void this.refresh();
    }, everyMs);
  }

  async refresh(): Promise<void> {
    const token = storedToken();
    let sensors: Record<string, SensorTrend> = {};
    try {
      const res = await fetch('/api/analytics', {
        headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      if (res.ok) sensors = ((await res.json()) as { sensors: Record<string, SensorTrend> }).sensors;
    } catch {
      // analytics unavailable: no trends shown
    }
    for (const row of document.querySelectorAll<HTMLElement>('[data-sensor]')) {
      const name = row.dataset.sensor!;
      const t = sensors[name];
      const s = this.#sensors.get(name);
      let box = row.querySelector<HTMLElement>('.trend');
      if (!t || !s || !Array.isArray(t.thresholds) || t.thresholds.length === 0) {
        box?.remove();
        continue;
      }
      if (!box) {
        box = document.createElement('span');
        box.className = 'trend';
        (row.querySelector('dd') ?? row).append(box);
      }
      const d = describeTrend(t, s.unit, s.base);
      // a key tile judges the value against its targets itself: the trend adds only direction and what comes next
      const eta = row.classList.contains('key') && d.eta && !d.eta.startsWith('reaches') ? '' : d.eta;
      if (!d.slope && !eta) {
        box.remove();
        continue;
      }
      box.dataset.trend = d.dir;
      box.title = 'trend over the last hour (canopy analytics)';
      const arrow = document.createElement('span');
      arrow.className = 'arrow';
      arrow.textContent = d.arrow;
      const parts: Node[] = [arrow];
      if (d.slope) parts.push(document.createTextNode(` ${d.slope}`));
      if (eta) {
        const line = document.createElement('span');
        line.className = 'eta';
        line.textContent = eta;
        parts.push(line);
      }
      box.replaceChildren(...parts);
    }
  }
}
