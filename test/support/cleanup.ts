/**
 * Every server a test starts registers its stop here. Stops run in afterAll
 * (see setup.ts) and, as a last resort, synchronously at process exit, so a
 * failing test never leaves a server behind.
 */
import type { ChildProcess } from 'node:child_process';

type Stopper = { stop: () => Promise<void>; killSync: () => void };

const stoppers = new Set<Stopper>();

export function register(s: Stopper): () => void {
  stoppers.add(s);
  return () => stoppers.delete(s);
}

export async function stopAll(): Promise<void> {
  const all = [...stoppers];
  stoppers.clear();
  await Promise.allSettled(all.map((s) => s.stop()));
}

process.once('exit', () => {
  for (const s of stoppers) {
    try {
      s.killSync();
    } catch {
      // already gone
    }
  }
});

/**
 * A child process the test spawned: SIGTERM when the test file ends (SIGKILL
 * 5 s later), SIGKILL at exit, so a failing assertion never leaves it running.
 * Returns the child.
 */
export function registerChild<C extends ChildProcess>(child: C): C {
  const running = () => child.exitCode === null && child.signalCode === null;
  register({
    stop: async () => {
      if (!running()) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => running() && child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
    killSync: () => {
      if (running()) child.kill('SIGKILL');
    },
  });
  return child;
}
