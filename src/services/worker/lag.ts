import type { Connection } from '../../bus/connection.js';
import type { Logger } from '../../util/log.js';

/** The worker's backlog as its heartbeat reports it (the Services panel shows it). */
export interface LagSample {
  /** Entries of the stream its group has not read yet; null when Redis cannot tell. */
  lag: number | null;
  /** Entries read but not yet acknowledged (not stored yet). */
  pending: number;
}

const field = (g: unknown, name: string): unknown => {
  if (g instanceof Map) return g.get(name);
  if (Array.isArray(g)) {
    for (let i = 0; i + 1 < g.length; i += 2) if (String(g[i]) === name) return g[i + 1];
    return undefined;
  }
  return (g as Record<string, unknown> | null)?.[name];
};

/**
 * Samples XINFO GROUPS of the worker's stream every `everyMs` (the heartbeat's
 * counters are read synchronously, so they take the last sample).
 */
export class LagSampler {
  last: LagSample | undefined;
  readonly #timer: NodeJS.Timeout;
  #busy = false;
  constructor(conn: Connection, stream: string, group: string, log: Logger, everyMs = 5000) {
    const sample = async () => {
      if (this.#busy) return;
      this.#busy = true;
      try {
        const reply = await conn.run('XINFO GROUPS', (c) => c.sendCommand(['XINFO', 'GROUPS', stream]));
        const g = Array.isArray(reply) ? reply.find((x) => String(field(x, 'name')) === group) : undefined;
        if (g === undefined) return;
        const lag = field(g, 'lag');
        this.last = {
          lag: lag === null || lag === undefined ? null : Number(lag),
          pending: Number(field(g, 'pending') ?? 0),
        };
      } catch (err) {
        log.debug({ err: (err as Error).message }, 'could not sample the group lag');
      } finally {
        this.#busy = false;
      }
    };
    void sample();
    this.#timer = setInterval(() => void sample(), everyMs);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
