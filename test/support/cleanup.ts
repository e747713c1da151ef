/**
 * Every server a test starts registers its stop here. Stops run in afterAll
 * (see setup.ts) and, as a last resort, synchronously at process exit, so a
 * failing test never leaves a server behind.
 */
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
