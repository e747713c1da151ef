/**
 * Ends the process once a clean stop is done. After a hang-up (SIGHUP: the
 * terminal or SSH session is gone) it dies of SIGHUP, as a program killed by
 * a hang-up conventionally does: `process.exit()` would first restore the
 * terminal settings of a terminal that no longer exists, which Node 20 treats
 * as a fatal error (an assertion in its stdio reset, and a core dump).
 */
export function exitAfterStop(signal: NodeJS.Signals | undefined, code: number): void {
  if (signal === 'SIGHUP') {
    process.removeAllListeners('SIGHUP');
    process.kill(process.pid, 'SIGHUP');
    return;
  }
  process.exit(code);
}
