/** What of a connection this needs (structural: no import of the connection module). */
interface Watched {
  readonly health: string;
  on(event: 'health', listener: () => void): unknown;
  off(event: 'health', listener: () => void): unknown;
  close(): Promise<void>;
}

/**
 * `ConnectionOptions.stopSignal`: once the signal is aborted, `conn` closes
 * at once whenever it is not connected — at that moment, or later when it
 * loses the server — so a stop never waits for a Redis that is gone.
 * Returns the function that stops watching (called by `close`).
 */
export function closeWhenStoppedOffline(conn: Watched, signal: AbortSignal): () => void {
  const check = () => {
    if (signal.aborted && conn.health !== 'ready') void conn.close();
  };
  signal.addEventListener('abort', check);
  conn.on('health', check);
  check();
  return () => {
    signal.removeEventListener('abort', check);
    conn.off('health', check);
  };
}
