/**
 * libfaketime for a real child process: its wall clock (CLOCK_REALTIME only;
 * the monotonic clock is left alone) is the real one shifted by the offset in
 * a timestamp file the test rewrites while the process runs (`+0`, `-3600`).
 */
import fs from 'node:fs';
import path from 'node:path';

/** The preload library of Debian's `faketime` package, or undefined. */
export const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']
  .map((d) => path.join(d, 'faketime/libfaketime.so.1'))
  .find((f) => fs.existsSync(f));

/** A stepped wall clock: `env` for the child, `set(seconds)` moves it (re-read on every call). */
export function fakeClock(file: string, offsetS = 0): { env: NodeJS.ProcessEnv; set: (offsetS: number) => void } {
  if (!LIBFAKETIME) throw new Error('libfaketime not found: install the faketime package (scripts/install-deps.sh)');
  const set = (s: number) => fs.writeFileSync(file, `${s >= 0 ? '+' : ''}${s}\n`);
  set(offsetS);
  return {
    env: {
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME_TIMESTAMP_FILE: file,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    },
    set,
  };
}
