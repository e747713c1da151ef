/**
 * A vitest reporter that watches the run itself (it runs in vitest's main
 * process, so a test file whose worker is blocked cannot stop it).
 *
 * - A test file running longer than `CANOPY_TEST_WARN_MIN` minutes (default 5)
 *   is named on stderr every few minutes, with how long it has run.
 * - A test file running longer than `CANOPY_TEST_FILE_LIMIT_MIN` minutes
 *   (default 20; every file takes well under 3 here) fails the run at once,
 *   naming every file still running, instead of holding CI until its limit.
 */
import type { Reporter, TestModule } from 'vitest/node';

function minutes(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

export default class WatchdogReporter implements Reporter {
  readonly #running = new Map<string, number>();
  readonly #warnMs = minutes('CANOPY_TEST_WARN_MIN', 5) * 60_000;
  readonly #limitMs = minutes('CANOPY_TEST_FILE_LIMIT_MIN', 20) * 60_000;
  readonly #lastWarned = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  onInit(): void {
    this.#timer = setInterval(() => this.#check(), Math.min(15_000, this.#limitMs / 2));
    this.#timer.unref();
  }

  onTestModuleStart(m: TestModule): void {
    this.#running.set(m.relativeModuleId, Date.now());
  }

  onTestModuleEnd(m: TestModule): void {
    this.#running.delete(m.relativeModuleId);
    this.#lastWarned.delete(m.relativeModuleId);
  }

  onTestRunEnd(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    const now = Date.now();
    for (const [file, since] of this.#running) {
      const ran = now - since;
      if (ran > this.#limitMs) {
        const all = [...this.#running].map(([f, s]) => `  ${f} (${((now - s) / 60_000).toFixed(1)} min)`).join('\n');
        process.stderr.write(
          `\nwatchdog: ${file} has run for more than ${this.#limitMs / 60_000} min; it is stuck. Still running:\n${all}\nFailing the run.\n`,
        );
        process.exit(1);
      }
      if (ran > this.#warnMs && now - (this.#lastWarned.get(file) ?? 0) > 3 * 60_000) {
        this.#lastWarned.set(file, now);
        process.stderr.write(`watchdog: ${file} still running after ${(ran / 60_000).toFixed(1)} min\n`);
      }
    }
  }
}
