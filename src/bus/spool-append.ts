import { clusterAckKey, onCluster } from './cluster/names.js';
import type { Connection } from './connection.js';
import type { SpoolRecord } from './spool.js';
import type { TrimPolicy } from './streams/producer.js';

/** What {@link appendOnce} needs to know about the stream. */
export interface AppendTarget {
  stream: string;
  trim: TrimPolicy;
  ackTtlSeconds: number;
  ackPrefix: string;
}

export interface AppendResult {
  added: number;
  skipped: number;
  /** Entries replayed under a new id because the stream had moved past the one they had. */
  reassigned: number;
  /** One per record, in order: the stream id it was added under, or `''` when it was skipped. */
  ids: string[];
}

/**
 * Adds records to the stream exactly once with `spool-append.lua`, one
 * call per run of records of the same writer: records at or below the
 * writer's ack key are skipped, the key advances in the same step.
 */
export async function appendOnce(
  conn: Connection,
  o: AppendTarget,
  recs: ReadonlyArray<SpoolRecord>,
): Promise<AppendResult> {
  const out: AppendResult = { added: 0, skipped: 0, reassigned: 0, ids: [] };
  let i = 0;
  while (i < recs.length) {
    const w = (recs[i] as SpoolRecord).w;
    let j = i;
    const args: string[] = [];
    while (j < recs.length && (recs[j] as SpoolRecord).w === w) {
      const r = recs[j] as SpoolRecord;
      const pairs = Object.entries(r.f);
      args.push(String(r.q), r.i ?? '*', String(pairs.length));
      for (const [k, v] of pairs) args.push(k, String(v));
      j++;
    }
    const trim =
      o.trim === 'none'
        ? ['', '']
        : 'maxLen' in o.trim
          ? ['MAXLEN', String(o.trim.maxLen)]
          : ['MINID', String(Date.now() - o.trim.minAgeMs)];
    const res = (await conn.runScript(
      'spool-append',
      // on a cluster the ack key carries the stream's hash tag: the script touches both in one slot
      [o.stream, onCluster(conn.options) ? clusterAckKey(o.ackPrefix, o.stream, w) : `${o.ackPrefix}${w}`],
      [String(o.ackTtlSeconds), ...trim, String(j - i), ...args],
    )) as [number, number, string, number, string[]];
    out.added += Number(res[0]);
    out.skipped += Number(res[1]);
    out.reassigned += Number(res[3]);
    for (const id of res[4] ?? []) out.ids.push(String(id));
    i = j;
  }
  return out;
}
