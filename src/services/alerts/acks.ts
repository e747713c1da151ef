import type { Connection } from '../../bus/connection.js';
import { ALERTS_ACKS } from '../../contracts/names.js';

/** One acknowledgement as the API appends it to `alerts:acks` (field `ack`, JSON). */
export interface AlertAck {
  /** The alert's key (`<rule>:<subject>`). */
  key: string;
  /** The alert's `started_at`: an acknowledgement of an earlier firing of the same condition does not apply. */
  since: string;
  /** Who acknowledged (the API's token fingerprint, never the token). */
  by: string;
  /** unix ms, when the API took it. */
  at: number;
}

/** Reads `{key, since, by, at}` from an `ack` field; undefined when it is not one. */
export function parseAck(text: string | undefined): AlertAck | undefined {
  if (!text) return undefined;
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (
      typeof o.key === 'string' &&
      typeof o.since === 'string' &&
      typeof o.by === 'string' &&
      typeof o.at === 'number' &&
      Number.isFinite(o.at)
    )
      return { key: o.key, since: o.since, by: o.by, at: o.at };
  } catch {
    // counted by the caller
  }
  return undefined;
}

/**
 * Follows `alerts:acks` with XRANGE from the last entry seen (the first read
 * starts at the beginning, so acknowledgements sent while the service was
 * down are applied after a restart; applying one twice changes nothing).
 */
export class AckReader {
  #last = '-';
  /** Entries that were not an acknowledgement (counted, skipped). */
  bad = 0;
  readonly #conn: Connection;
  readonly #stream: string;
  readonly #page: number;
  constructor(conn: Connection, stream: string = ALERTS_ACKS, page = 100) {
    this.#conn = conn;
    this.#stream = stream;
    this.#page = page;
  }

  /** The acknowledgements appended since the previous call. */
  async poll(): Promise<AlertAck[]> {
    const out: AlertAck[] = [];
    for (;;) {
      const start = this.#last === '-' ? '-' : `(${this.#last}`;
      const rows =
        (await this.#conn.run('XRANGE alerts:acks', (c) =>
          c.xRange(this.#stream, start, '+', { COUNT: this.#page }),
        )) ?? [];
      for (const r of rows) {
        this.#last = r.id;
        const a = parseAck(r.message.ack);
        if (a) out.push(a);
        else this.bad++;
      }
      if (rows.length < this.#page) return out;
    }
  }
}
