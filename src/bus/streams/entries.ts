/** One stream entry as a consumer sees it. */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
  /** Times Redis has delivered it, this delivery included (1 for a fresh entry). */
  deliveries: number;
}

type Raw = unknown;

/**
 * Parses the reply of XREADGROUP/XREAD: per stream a list
 * `[[id, [f, v, …]] | [id, nil], …]`, or nil. Entries deleted
 * from the stream while pending come back with no fields: they are
 * returned in `deleted`. With `deliveries`, each entry carries it from
 * the start (one object shape per entry, nothing added later).
 */
export function parseReadReply(reply: Raw): { entries: Omit<StreamEntry, 'deliveries'>[]; deleted: string[] };
export function parseReadReply(reply: Raw, deliveries: number): { entries: StreamEntry[]; deleted: string[] };
export function parseReadReply(
  reply: Raw,
  deliveries?: number,
): { entries: Omit<StreamEntry, 'deliveries'>[]; deleted: string[] } {
  const entries: (Omit<StreamEntry, 'deliveries'> & { deliveries?: number })[] = [];
  const deleted: string[] = [];
  if (reply === null || typeof reply !== 'object') return { entries, deleted };
  // RESP2: [[name, entries]]; RESP3: a map name → entries (an object or a Map, per type mapping).
  const lists: Raw[] = Array.isArray(reply)
    ? (reply as Raw[][]).map((s) => s[1])
    : reply instanceof Map
      ? [...reply.values()]
      : Object.values(reply);
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const e of list as Raw[][]) {
      const id = String(e[0]);
      const flat = e[1];
      if (!Array.isArray(flat)) {
        deleted.push(id);
        continue;
      }
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1]);
      entries.push(deliveries === undefined ? { id, fields } : { id, fields, deliveries });
    }
  }
  return { entries, deleted };
}

/** Parses the extended XPENDING reply `[[id, consumer, idleMs, deliveries], …]` into id → deliveries. */
export function parsePendingReply(reply: Raw): Map<string, number> {
  const out = new Map<string, number>();
  if (!Array.isArray(reply)) return out;
  for (const row of reply as Raw[][]) out.set(String(row[0]), Number(row[3]));
  return out;
}

/** The stream id just below `id` (`5-0` → `4-18446744073709551615`), for exclusive history reads. */
export function idBefore(id: string): string {
  const [ms, seq] = id.split('-') as [string, string];
  if (BigInt(seq) > 0n) return `${ms}-${BigInt(seq) - 1n}`;
  if (BigInt(ms) === 0n) return '0-0';
  return `${BigInt(ms) - 1n}-18446744073709551615`;
}

/** XREADGROUP of up to `count` entries of `stream` after `id` (`>`: new ones), blocking `blockMs` when given. */
export function readGroupArgs(
  group: string,
  consumer: string,
  count: number,
  stream: string,
  id: string,
  blockMs?: number,
): string[] {
  const block = blockMs === undefined ? [] : ['BLOCK', String(blockMs)];
  return ['XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(count), ...block, 'STREAMS', stream, id];
}
