import { describe, expect, it } from 'vitest';
import { cpuSeconds, parseProcStat, readProcStat } from '../../src/util/procstat.js';

// proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime … starttime (22)
const line = (comm: string) =>
  `4242 (${comm}) S 17 4242 4242 0 -1 4194560 1289 0 0 0 250 31 0 0 20 0 11 0 987654 1048576000 12000 18446744073709551615\n`;

describe('/proc/PID/stat', () => {
  it('counts the fields from the command name’s last parenthesis, whatever the name holds', () => {
    for (const comm of ['node', 'a b', 'x) S 99 (y', ')']) {
      expect(parseProcStat(line(comm))).toEqual({
        state: 'S',
        ppid: 17,
        utimeTicks: 250,
        stimeTicks: 31,
        startTicks: 987654,
      });
    }
  });

  it('refuses a line that is not one', () => {
    expect(() => parseProcStat('hello')).toThrow(SyntaxError);
    expect(() => parseProcStat('1 (a) S x')).toThrow(/field 4/);
  });

  it('reads this process, and nothing for a pid that does not exist', () => {
    const me = readProcStat(process.pid);
    expect(me?.ppid).toBe(process.ppid);
    expect(me?.state).toMatch(/^[RS]$/);
    expect(me?.startTicks).toBeGreaterThan(0);
    expect(readProcStat(2 ** 22 + 1)).toBeUndefined(); // above pid_max's ceiling
    expect(cpuSeconds(2 ** 22 + 1)).toBe(0);
    expect(cpuSeconds(process.pid)).toBeGreaterThan(0);
  });
});
