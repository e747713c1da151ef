/**
 * What a device row says, in words a grower reads: states, modes, sources,
 * times and countdowns. Pure functions (tested through the browser test).
 */

/** A device as GET /api/devices and the live `device` messages give it (a DeviceUpdate). */
export interface DeviceState {
  device: string;
  location: string;
  cluster: string;
  state: number;
  mode: string;
  timestamp: string;
  reason?: string;
  simulated?: boolean;
  label?: string;
  kind?: string;
  since?: string;
  source?: 'schedule' | 'rule' | 'manual' | 'mode' | 'safety' | 'failsafe';
  expires_at?: string;
  held?: { want: 0 | 1; until: string; why: string };
  command?: { id: string; outcome: 'applied' | 'held' | 'refused'; reason: string };
}

/** Kinds whose manual on needs a confirmation (they heat or dose). */
export const CONFIRM_KINDS = ['heater', 'co2_valve'];

export const onOff = (s: number): string => (s ? 'ON' : 'OFF');

const MODES: Record<string, string> = { auto: 'Auto', manual: 'Manual', off: 'Disabled', failsafe: 'Failsafe' };
export const modeText = (m: string): string => MODES[m] ?? m;

const SOURCES: Record<string, string> = {
  schedule: 'by its schedule',
  rule: 'by its controller',
  manual: 'by a manual command',
  mode: 'by a mode change',
  safety: 'by a safety limit',
  failsafe: 'by the failsafe',
};
export const sourceText = (s: string | undefined): string => (s ? (SOURCES[s] ?? s) : '');

/** `14:02` today, `30 Nov 14:02` on another day (the browser's time zone). */
export function clock(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const hm = d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
  if (new Date(now).toDateString() === d.toDateString()) return hm;
  return `${d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })} ${hm}`;
}

/** `3:20`, `1:02:03`: time left, never negative. */
export function countdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** `1 h`, `15 min`, `8 h`: a duration for a confirmation. */
export function duration(s: number): string {
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

/**
 * The controller's reason in words: sensor names and machine phrasing
 * become sentences; anything unknown is shown as it is.
 */
export function reasonText(r: string | undefined): string {
  if (!r) return '';
  const rules: [RegExp, (m: RegExpMatchArray) => string][] = [
    [/^schedule (\S+)–(\S+) (.+)$/, (m) => `Schedule: on ${m[1]} to ${m[2]} (${m[3]})`],
    [
      /^leaf VPD (\S+) < (\S+) kPa \((\S+) (day|night) target (\S+)\)$/,
      (m) => `Leaf VPD ${m[1]} kPa is below ${m[2]} (${m[3]} ${m[4]} target ${m[5]} kPa)`,
    ],
    [
      /^leaf VPD (\S+) > (\S+) kPa \((\S+) (day|night) target (\S+)\)$/,
      (m) => `Leaf VPD ${m[1]} kPa is above ${m[2]} (${m[3]} ${m[4]} target ${m[5]} kPa)`,
    ],
    [
      /^leaf VPD (\S+) within (\S+) kPa \((\S+) (day|night) target (\S+)\)$/,
      (m) => `Leaf VPD ${m[1]} kPa is within ${m[2]}: holding (${m[3]} ${m[4]} target ${m[5]} kPa)`,
    ],
    [/^(\S+) (\S+) < (\S+) \(setpoint (\S+)\)$/, (m) => `${m[1]} ${m[2]} is below ${m[3]} (setpoint ${m[4]})`],
    [/^(\S+) (\S+) > (\S+) \(setpoint (\S+)\)$/, (m) => `${m[1]} ${m[2]} is above ${m[3]} (setpoint ${m[4]})`],
    [
      /^(\S+) (\S+) within (\S+), holding \(setpoint (\S+)\)$/,
      (m) => `${m[1]} ${m[2]} is within ${m[3]}: holding (setpoint ${m[4]})`,
    ],
    [/^manual command$/, () => 'Switched by hand'],
    [/^refused: (.+)$/, (m) => `Last command refused: ${m[1]}`],
    [/^mode off$/, () => 'Disabled: stays off until set back to auto'],
    [/^mode (\S+) → (\S+)$/, (m) => `Mode changed from ${modeText(m[1]!)} to ${modeText(m[2]!)}`],
    [/^startup: safe state$/, () => 'Safe state since the automation started'],
    [
      /^failsafe: no reading of (\S+) for (.+)$/,
      (m) => `No reading of sensor ${m[1]} for ${m[2]}: check the sensor and the worker`,
    ],
    [/^automation (started|stopped): safe state$/, (m) => `Safe state: the automation ${m[1]}`],
    [
      /^failsafe: (\S+) is stale \((.+)\)$/,
      (m) => `Sensor ${m[1]} is stale (${m[2]}): check the sensor and the worker`,
    ],
    [/^no controller: safe state$/, () => 'No controller: kept in its safe state'],
    [/^hard limit: (.+)$/, (m) => `Room hard limit: ${m[1]}`],
    [/^maximum on time: (.+)$/, (m) => `Maximum on time reached (${m[1]})`],
  ];
  for (const [re, f] of rules) {
    const m = r.match(re);
    if (m) return f(m);
  }
  return r.charAt(0).toUpperCase() + r.slice(1);
}
