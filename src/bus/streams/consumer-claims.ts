import type { Connection } from '../connection.js';
import { ReplyError } from '../errors.js';
import type { ConsumerOptions } from './consumer-options.js';
import { parsePendingReply } from './entries.js';

/**
 * The group side of a {@link StreamConsumer}: creating the group, claiming
 * entries of other consumers (by name, or idle ones in a periodic sweep),
 * keeping held entries claimed, and the atomic move to the dead-letter
 * stream. Each function is one Redis conversation; the consumer keeps the
 * counters and decides when to call them.
 */

/** The options these functions need. */
export type GroupOptions = Pick<
  ConsumerOptions,
  | 'stream'
  | 'group'
  | 'startId'
  | 'claimIdleMs'
  | 'claimIntervalMs'
  | 'batchSize'
  | 'deadLetterStream'
  | 'deadLetterMaxLen'
>;

/** One entry to dead-letter, with the reason recorded beside its fields. */
export interface DeadLetterItem {
  id: string;
  reason: string;
  deliveries: number;
}

/** XGROUP CREATE … MKSTREAM; a group that exists already is fine. */
export async function ensureGroup(conn: Connection, o: GroupOptions): Promise<void> {
  try {
    await conn.run('XGROUP CREATE', (c) =>
      c.sendCommand(['XGROUP', 'CREATE', o.stream, o.group, o.startId, 'MKSTREAM']),
    );
  } catch (err) {
    if (!(err instanceof ReplyError && err.reply === 'BUSYGROUP')) throw err;
  }
}

/**
 * Moves every entry pending in `from` to `to` (XPENDING pages + XCLAIM),
 * then, with `deleteConsumer`, removes `from` from the group. Returns the
 * number claimed.
 */
export async function claimAllOf(
  conn: Connection,
  o: GroupOptions,
  from: string,
  to: string,
  deleteConsumer: boolean,
): Promise<number> {
  let total = 0;
  for (;;) {
    const pend = parsePendingReply(
      await conn.run('XPENDING', (c) => c.sendCommand(['XPENDING', o.stream, o.group, '-', '+', '1000', from])),
    );
    if (pend.size === 0) break;
    const ids = [...pend.keys()];
    await conn.run('XCLAIM', (c) => c.sendCommand(['XCLAIM', o.stream, o.group, to, '0', ...ids, 'JUSTID']));
    total += ids.length;
  }
  if (deleteConsumer) await deleteEmptyConsumer(conn, o.stream, o.group, from);
  return total;
}

/**
 * XGROUP DELCONSUMER `name` unless entries are pending for it, in one atomic
 * step (`consumer-delete-empty.lua`): a consumer that came back meanwhile
 * (a restarted worker reading under its old name) keeps what it read.
 * Returns whether it was removed.
 */
export async function deleteEmptyConsumer(
  conn: Connection,
  stream: string,
  group: string,
  name: string,
): Promise<boolean> {
  return Number(await conn.runScript('consumer-delete-empty', [stream], [group, name])) === 1;
}

/** Resets the idle time of `ids` (XCLAIM … JUSTID to `to` itself), so no sweep claims them. */
export async function touchClaimed(conn: Connection, o: GroupOptions, to: string, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    await conn.run('XCLAIM held', (c) => c.sendCommand(['XCLAIM', o.stream, o.group, to, '0', ...chunk, 'JUSTID']));
  }
}

/**
 * XAUTOCLAIM to `to` of entries idle longer than `claimIdleMs`. Unless
 * `force`, only the consumer that wins this interval's lock
 * (`<stream>:<group>:claim-lock`, SET NX PX) sweeps. Returns the number claimed.
 */
export async function claimIdle(conn: Connection, o: GroupOptions, to: string, force: boolean): Promise<number> {
  const { stream, group, claimIdleMs, claimIntervalMs, batchSize } = o;
  if (!force) {
    const lock = `${stream}:${group}:claim-lock`;
    const won = await conn.run('SET NX claim lock', (c) =>
      c.set(lock, to, { condition: 'NX', expiration: { type: 'PX', value: claimIntervalMs } }),
    );
    if (won !== 'OK') return 0;
  }
  let cursor = '0-0';
  let total = 0;
  for (let round = 0; round < 100; round++) {
    const reply = (await conn.run('XAUTOCLAIM', (c) =>
      c.sendCommand([
        'XAUTOCLAIM',
        stream,
        group,
        to,
        String(claimIdleMs),
        cursor,
        'COUNT',
        String(Math.max(100, batchSize)),
        'JUSTID',
      ]),
    )) as unknown[];
    cursor = String(reply[0]);
    total += Array.isArray(reply[1]) ? reply[1].length : 0;
    if (cursor === '0-0') break;
  }
  return total;
}

/**
 * Copies the entries to the dead-letter stream and acks them, atomically
 * (`dead-letter.lua`). Returns the number moved.
 */
export async function moveToDeadLetter(conn: Connection, o: GroupOptions, items: DeadLetterItem[]): Promise<number> {
  const args = [o.group, String(o.deadLetterMaxLen)];
  for (const i of items) args.push(i.id, i.reason, String(i.deliveries));
  return Number(await conn.runScript('dead-letter', [o.stream, o.deadLetterStream], args));
}

/**
 * The first page of `consumer`'s pending entries (id → deliveries) with the
 * ids in `held` left out, paging on past pages that hold nothing else (so
 * held entries cannot hide the others); null when nothing else is pending.
 */
export async function ownPendingPage(
  conn: Connection,
  o: GroupOptions,
  consumer: string,
  held: ReadonlySet<string>,
): Promise<Map<string, number> | null> {
  let start = '-';
  for (;;) {
    const page = parsePendingReply(
      await conn.run('XPENDING', (c) =>
        c.sendCommand(['XPENDING', o.stream, o.group, start, '+', String(Math.max(o.batchSize, 1000)), consumer]),
      ),
    );
    if (page.size === 0) return null;
    const last = [...page.keys()].pop() as string;
    for (const id of held) page.delete(id);
    if (page.size > 0) return page;
    start = `(${last}`;
  }
}
