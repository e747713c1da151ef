import type { Connection } from '../../bus/connection.js';
import type { Clock } from '../../cea/control/clock.js';
import type { Logger } from '../../util/log.js';

/**
 * The Redis server's clock, followed on our monotonic clock: stream entry ids
 * are stamped by the server, so a command's age is measured against it and a
 * step of our own wall clock never makes a fresh command look old (or an old
 * one fresh). Until `learn()` succeeds — or when the ACL refuses `TIME` — our
 * wall clock at that moment stands in.
 */
export class ServerClock {
  #offset: number;

  constructor(private readonly clock: Clock) {
    this.#offset = clock.wallMs() - clock.monoMs();
  }

  /** Asks the server for `TIME` once. */
  async learn(conn: Connection, log: Logger): Promise<void> {
    try {
      const r = (await conn.run('TIME', (c) => c.sendCommand(['TIME']))) as unknown as [string, string];
      this.#offset = Number(r[0]) * 1000 + Math.floor(Number(r[1]) / 1000) - this.clock.monoMs();
    } catch (err) {
      this.#offset = this.clock.wallMs() - this.clock.monoMs();
      log.info({ err: (err as Error).message }, 'redis TIME unavailable: command ages from the local clock at start');
    }
  }

  /** Milliseconds since `serverMs` (a stream id's time part) on the server's clock. */
  ageOf(serverMs: number): number {
    return this.clock.monoMs() + this.#offset - serverMs;
  }
}
