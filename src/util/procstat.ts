import fs from 'node:fs';

/**
 * The fields of `/proc/PID/stat` that Canopy reads (proc(5) numbering).
 * Times are in clock ticks: 100 per second on Linux (`USER_HZ`).
 */
export interface ProcStat {
  /** Field 3: `R` running, `S` sleeping, `T` stopped, `Z` zombie, … */
  state: string;
  /** Field 4. */
  ppid: number;
  /** Field 14: user-mode CPU time, ticks. */
  utimeTicks: number;
  /** Field 15: kernel-mode CPU time, ticks. */
  stimeTicks: number;
  /** Field 22: start time after boot, ticks (with the pid, it tells a reused pid apart). */
  startTicks: number;
}

/** Clock ticks per second of `/proc/PID/stat`'s times on Linux. */
export const USER_HZ = 100;

/**
 * Parses one `/proc/PID/stat` line. The command name (field 2) is in
 * parentheses and may itself hold spaces and parentheses, so the fields are
 * counted from its last `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new SyntaxError('not a /proc/PID/stat line: no command name');
  const f = text
    .slice(close + 2)
    .trimEnd()
    .split(' ');
  const n = (i: number) => {
    const v = Number(f[i]);
    if (!Number.isFinite(v)) throw new SyntaxError(`not a /proc/PID/stat line: field ${i + 3} is ${f[i]}`);
    return v;
  };
  return { state: f[0] ?? '', ppid: n(1), utimeTicks: n(11), stimeTicks: n(12), startTicks: n(19) };
}

/** `/proc/PID/stat` of `pid`, or undefined when it is gone (or this is not Linux). */
export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + kernel) `pid` has used, or 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  const s = readProcStat(pid);
  return s ? (s.utimeTicks + s.stimeTicks) / USER_HZ : 0;
}
