/**
 * Backend-independent handling of a write batch: validation, the distinct
 * stream ids it carries, and the rows to store once the backend knows which
 * ids are new (inside its transaction).
 */
import { StoreError } from './errors.js';
import type { CanMessageRow, ExportPageQuery, LatestReading, ReadingRow, WriteBatch } from './types.js';

const isStr = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isInteger(v);

function bad(what: string, i: number, why: string): never {
  throw new StoreError('STORE_INVALID', `writeBatch: ${what}[${i}] ${why}; nothing was written`);
}

/** Throws STORE_INVALID (before anything is written) when a row is malformed. */
export function validateBatch(b: WriteBatch): void {
  if (!b || !Array.isArray(b.messages) || !Array.isArray(b.readings)) {
    throw new StoreError('STORE_INVALID', 'writeBatch: expected { messages: [], readings: [] }');
  }
  b.messages.forEach((m, i) => {
    if (!isStr(m.streamId) || !m.streamId) bad('messages', i, 'has no streamId');
    if (!Number.isFinite(m.timestamp)) bad('messages', i, 'has a non-finite timestamp');
    if (!isInt(m.canId) || m.canId < 0) bad('messages', i, 'has an invalid canId');
    if (m.nodeId !== null && !isInt(m.nodeId)) bad('messages', i, 'has an invalid nodeId');
    if (!isInt(m.dlc) || m.dlc < 0 || m.dlc > 64) bad('messages', i, 'has an invalid dlc');
    if (!isStr(m.rawData) || !isStr(m.messageType)) bad('messages', i, 'needs string rawData and messageType');
    if (m.decodedData !== null && typeof m.decodedData !== 'object')
      bad('messages', i, 'decodedData must be an object');
  });
  b.readings.forEach((r, i) => {
    if (!isStr(r.streamId) || !r.streamId) bad('readings', i, 'has no streamId');
    if (!Number.isFinite(r.time)) bad('readings', i, 'has a non-finite time');
    if (!isStr(r.sensor) || !r.sensor) bad('readings', i, 'has no sensor');
    if (typeof r.value !== 'number' || !Number.isFinite(r.value)) bad('readings', i, 'has a non-finite value');
    if (!isStr(r.location) || !isStr(r.cluster)) bad('readings', i, 'needs string location and cluster');
  });
}

/** The distinct stream ids of a batch, in first-seen order. */
export function streamIdsOf(b: WriteBatch): string[] {
  const ids = new Set<string>();
  for (const m of b.messages) ids.add(m.streamId);
  for (const r of b.readings) ids.add(r.streamId);
  return [...ids];
}

/**
 * The rows of the new stream ids, deduplicated inside the batch: one message
 * per stream id, one reading per (stream id, sensor).
 */
export function freshRows(b: WriteBatch, fresh: Set<string>): { messages: CanMessageRow[]; readings: ReadingRow[] } {
  const seenMsg = new Set<string>();
  const messages: CanMessageRow[] = [];
  for (const m of b.messages) {
    if (!fresh.has(m.streamId) || seenMsg.has(m.streamId)) continue;
    seenMsg.add(m.streamId);
    messages.push(m);
  }
  return { messages, readings: groupedReadings(b.readings, fresh) ?? keyedReadings(b.readings, fresh) };
}

/**
 * One reading per (stream id, sensor) when each stream id's readings come
 * together (one frame's readings: the worker's case), comparing sensors within
 * the group only; null as soon as an id comes back after another one.
 */
function groupedReadings(all: ReadingRow[], fresh: Set<string>): ReadingRow[] | null {
  const out: ReadingRow[] = [];
  const done = new Set<string>();
  let current: string | undefined;
  let sensors: string[] = [];
  for (const r of all) {
    if (r.streamId !== current) {
      if (done.has(r.streamId)) return null;
      if (current !== undefined) done.add(current);
      current = r.streamId;
      sensors = [];
    }
    if (!fresh.has(r.streamId) || sensors.includes(r.sensor)) continue;
    sensors.push(r.sensor);
    out.push(r);
  }
  return out;
}

/** One reading per (stream id, sensor), in any order. */
function keyedReadings(all: ReadingRow[], fresh: Set<string>): ReadingRow[] {
  const seen = new Set<string>();
  return all.filter((r) => {
    const key = `${r.streamId}\u0000${r.sensor}`;
    if (!fresh.has(r.streamId) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The newest reading per sensor among `readings`. */
export function latestOf(readings: ReadingRow[]): LatestReading[] {
  const latest = new Map<string, ReadingRow>();
  for (const r of readings) {
    const cur = latest.get(r.sensor);
    if (!cur || r.time >= cur.time) latest.set(r.sensor, r);
  }
  return [...latest.values()].map(({ sensor, time, value, location, cluster }) => ({
    sensor,
    time,
    value,
    location,
    cluster,
  }));
}

/** The JSON text stored for decoded_data. */
export function decodedText(m: CanMessageRow): string | null {
  return m.decodedData === null || m.decodedData === undefined ? null : JSON.stringify(m.decodedData);
}

/** Validates an export page query (shared by both backends). */
export function checkPage(q: ExportPageQuery): void {
  if (
    !Array.isArray(q.sensors) ||
    !Number.isFinite(q.from) ||
    !Number.isFinite(q.to) ||
    !(Number.isInteger(q.skip) && q.skip >= 0) ||
    !(Number.isInteger(q.limit) && q.limit > 0)
  ) {
    throw new StoreError('STORE_INVALID', 'exportPage: need sensors[], finite from/to, skip >= 0 and limit > 0');
  }
}
