/**
 * The store's public shapes. The row types are the worker's (src/cea/types.ts).
 */
import type { CanMessageRow, ReadingRow } from '../cea/types.js';

export type { CanMessageRow, ReadingRow };

/** A batch written in one transaction. */
export interface WriteBatch {
  messages: CanMessageRow[];
  readings: ReadingRow[];
}

/**
 * Result of {@link Store.writeBatch}, counted in distinct stream entries:
 * `stored` entries were new, `duplicates` were already stored and skipped.
 */
export interface WriteResult {
  stored: number;
  duplicates: number;
}

export interface HistoryQuery {
  sensor: string;
  /** Unix ms, inclusive. */
  from: number;
  /** Unix ms, exclusive. */
  to: number;
  /** At most this many buckets are returned. */
  points: number;
}

/** One bucket of {@link Store.history}; `t` is the bucket start (unix ms, aligned to the epoch). */
export interface HistoryPoint {
  t: number;
  min: number;
  max: number;
  avg: number;
  count: number;
}

export interface ExportQuery {
  sensors: string[];
  /** Unix ms, inclusive. */
  from: number;
  /** Unix ms, exclusive. */
  to: number;
}

/** One page of {@link Store.exportPage}: rows from `from` on, after skipping `skip` rows at exactly `from`. */
export interface ExportPageQuery extends ExportQuery {
  /** Rows at exactly `from` already read (the previous page ended there). */
  skip: number;
  /** Most rows returned. */
  limit: number;
}

/** A row of {@link Store.exportReadings} (a reading without its stream id). */
export interface ExportRow {
  time: number;
  sensor: string;
  value: number;
  location: string;
  cluster: string;
}

export interface LatestReading {
  sensor: string;
  time: number;
  value: number;
  location: string;
  cluster: string;
}

export type DeviceMode = 'auto' | 'manual' | 'off';

export interface DeviceState {
  device: string;
  state: number;
  mode: DeviceMode | string;
  location: string | null;
  cluster: string | null;
  /** Unix ms. */
  updatedAt: number;
  by: string | null;
}

export interface ControlEvent {
  /** Unix ms. */
  time: number;
  device: string;
  fromState: number | null;
  toState: number;
  fromMode: string | null;
  toMode: string;
  reason: string | null;
  source: string | null;
  by: string | null;
}

export interface Setpoint {
  name: string;
  value: number;
  /** Unix ms. */
  updatedAt: number;
  by: string | null;
}

/** A schedule or rule: an id and its configuration (any JSON object). */
export interface ConfigRecord {
  id: string;
  config: Record<string, unknown>;
  enabled: boolean;
  /** Unix ms. */
  updatedAt: number;
  by: string | null;
}

export type ConfigKind = 'schedules' | 'rules';

export type AlertState = 'active' | 'resolved';

export interface Alert {
  id: number;
  rule: string;
  sensor: string | null;
  severity: string;
  state: AlertState;
  /** Unix ms. */
  startedAt: number;
  resolvedAt: number | null;
  message: string;
}

export type NewAlert = Pick<Alert, 'rule' | 'sensor' | 'severity' | 'message'> & { startedAt?: number };

/** One note. */
export interface JournalEntry {
  id: number;
  /** unix ms: when it happened (defaults to when it was written). */
  time: number;
  location: string;
  cluster: string | null;
  text: string;
  /** Who wrote it (a token's name). */
  by: string;
}

export type NewJournalEntry = Omit<JournalEntry, 'id' | 'time' | 'cluster'> & {
  time?: number;
  cluster?: string | null;
};

/** Which notes {@link JournalMethods.listJournal} returns, newest first. */
export interface JournalQuery {
  /** @defaultValue every room */
  location?: string;
  /** unix ms, inclusive. @defaultValue no bound */
  from?: number;
  /** unix ms, inclusive. @defaultValue no bound */
  to?: number;
  /** 1–10000. @defaultValue 200 */
  limit?: number;
}

/** Longest note, in characters. */
export const JOURNAL_MAX_TEXT = 2000;

/** Rows removed by one retention sweep, per table. */
export type SweepResult = Record<string, number>;

export type StoreKind = 'sqlite' | 'postgres' | 'timescaledb';

/** Which `can_messages` rows {@link Store.messages} returns. */
export interface MessageQuery {
  /** Only rows with a larger id (a follower's cursor). @defaultValue none: the newest `limit` rows */
  afterId?: number;
  /** Only frames at or after this time (unix ms). @defaultValue no bound */
  since?: number;
  /** At most this many rows (1–100000). @defaultValue 500 */
  limit?: number;
}

/** A `can_messages` row as stored: its id (insertion order) instead of the stream id. */
export interface StoredCanMessage extends Omit<CanMessageRow, 'streamId'> {
  id: number;
}

/** The read replica as probed by {@link Store.readStatus}. */
export interface ReplicaStatus {
  /** `host:port/database` of `DATABASE_READ_URL` (never its credentials). */
  server: string;
  /** It answered the probe. */
  up: boolean;
  /**
   * How far (ms) its data is behind the primary: 0 when everything it received is replayed, else the age
   * of the last transaction it replayed. null when down.
   */
  lagMs: number | null;
  /** unix ms of the last transaction it replayed; null when none yet, down, or not a replica. */
  replayedAt: number | null;
  /** Its WAL receiver is streaming from the primary; null when unknown (the role lacks `pg_read_all_stats`, or down). */
  streaming: boolean | null;
  /** It is in recovery (a standby); false once promoted, or when the URL names a primary. null when down. */
  inRecovery: boolean | null;
  /** Why it is down. */
  error?: string;
}

/** Where the store's read side goes (docs/scaling-postgres.md). */
export interface ReadStatus {
  /** `replica` when a read replica is configured (`DATABASE_READ_URL`, PostgreSQL), else `primary`. */
  target: 'primary' | 'replica';
  /** Read-side calls served by each server since the store opened (PostgreSQL; SQLite counts none). */
  reads: { replica: number; primary: number };
  /** Read-side calls meant for the replica that the primary served (replica unreachable, or a read cancelled by replay). */
  fallbacks: number;
  /** The replica, probed now; null without one. */
  replica: ReplicaStatus | null;
}

/**
 * The history store. SQLite ({@link openStore} with `sqlite:PATH`) or
 * PostgreSQL/TimescaleDB (`postgres://…`) behind one interface. Every method
 * rejects with a {@link StoreError} (stable `code`) on failure.
 *
 * The read side — {@link history}, {@link exportReadings}, {@link exportPage}, {@link countExport},
 * {@link latestReadings}, {@link messages}, {@link listJournal} and {@link controlHistory} — goes to the
 * read replica when one is configured (PostgreSQL, `readUrl`); everything else, writes and the operational
 * state that is read to be changed (device states, setpoints, schedules, rules, alerts, counts), goes to
 * the primary.
 */
export interface Store {
  readonly kind: StoreKind;
  /** Applies the versioned schema migrations not yet applied (idempotent). */
  migrate(): Promise<void>;
  /**
   * Writes a batch in ONE transaction. Idempotent by stream id: messages and
   * readings whose `streamId` is already stored are skipped.
   */
  writeBatch(b: WriteBatch): Promise<WriteResult>;
  /** min/max/avg/count per bucket; the finest bucket width giving ≤ `points` buckets. */
  history(q: HistoryQuery): Promise<HistoryPoint[]>;
  /** Readings ordered by time, streamed from a cursor (constant memory). */
  exportReadings(q: ExportQuery): AsyncIterable<ExportRow>;
  /**
   * One page of the same rows, ordered by (time, sensor, value, location,
   * cluster); no connection or snapshot is held between pages.
   */
  exportPage(q: ExportPageQuery): Promise<ExportRow[]>;
  /** How many rows {@link exportReadings} would return, counting no further than `limit`. */
  countExport(q: ExportQuery, limit: number): Promise<number>;
  /** The newest reading of each sensor (optionally only those named). */
  latestReadings(sensors?: string[]): Promise<LatestReading[]>;
  countMessages(): Promise<number>;
  /** `can_messages` rows in insertion (id) order: the newest, or those after a cursor. */
  messages(q: MessageQuery): Promise<StoredCanMessage[]>;
  countReadings(): Promise<number>;

  getDeviceStates(): Promise<DeviceState[]>;
  /** Upserts the device's state and appends a control_history row in one transaction. */
  setDeviceState(
    s: Omit<DeviceState, 'updatedAt'> & { updatedAt?: number; reason?: string; source?: string },
  ): Promise<void>;
  controlHistory(q: { device?: string; from?: number; to?: number; limit?: number }): Promise<ControlEvent[]>;
  getSetpoints(): Promise<Setpoint[]>;
  setSetpoint(s: Omit<Setpoint, 'updatedAt'> & { updatedAt?: number }): Promise<void>;
  listConfigs(kind: ConfigKind): Promise<ConfigRecord[]>;
  putConfig(kind: ConfigKind, r: Omit<ConfigRecord, 'updatedAt'> & { updatedAt?: number }): Promise<void>;
  deleteConfig(kind: ConfigKind, id: string): Promise<boolean>;
  openAlert(a: NewAlert): Promise<Alert>;
  resolveAlert(id: number, at?: number): Promise<Alert | null>;
  listAlerts(q?: { state?: AlertState; limit?: number }): Promise<Alert[]>;
  /** A note in the grower's journal (src/store/journal.ts). */
  addJournalEntry(e: NewJournalEntry): Promise<JournalEntry>;
  /** Journal notes, newest first. */
  listJournal(q?: JournalQuery): Promise<JournalEntry[]>;

  /** Applies the retention rules now (also runs on a timer, see `sweepIntervalMs`). */
  sweep(now?: number): Promise<SweepResult>;
  /** Rejects with STORE_UNAVAILABLE when the database cannot be reached. */
  ping(): Promise<void>;
  /**
   * Where reads go and how stale they may be. With a read replica it is probed (one query, within
   * `timeoutMs`, default the connect timeout); a replica that does not answer is reported down and reads
   * go to the primary.
   */
  readStatus(timeoutMs?: number): Promise<ReadStatus>;
  close(): Promise<void>;
}
