import type { JournalEntry, JournalQuery, NewJournalEntry, ReadStatus } from '../../store/types.js';

/**
 * The part of the history store (src/store) the API uses. Kept as an
 * interface so the routes depend on the shape, not on one backend.
 */
export interface HistoryBucket {
  /** Bucket start, unix ms. */
  t: number;
  min: number;
  max: number;
  avg: number;
  count: number;
}

export interface ReadingRow {
  /** unix ms */
  time: number;
  sensor: string;
  value: number;
  location: string;
  cluster: string;
}

export interface ApiStore {
  history(q: { sensor: string; from: number; to: number; points: number }): Promise<HistoryBucket[]>;
  /**
   * One page of rows from `from` on (skipping `skip` rows at exactly `from`),
   * ordered by time then the row's columns; nothing is held between pages.
   */
  exportPage(q: { sensors: string[]; from: number; to: number; skip: number; limit: number }): Promise<ReadingRow[]>;
  /** Rows the export of `q` holds, counting no further than `limit`. */
  countExport(q: { sensors: string[]; from: number; to: number }, limit: number): Promise<number>;
  /** Schedules and rules (routes/schedules.ts); src/store's Store has them. */
  listConfigs?(kind: ProgramKind): Promise<ProgramRow[]>;
  putConfig?(kind: ProgramKind, r: Omit<ProgramRow, 'updatedAt'>): Promise<void>;
  deleteConfig?(kind: ProgramKind, id: string): Promise<boolean>;
  /** The grower's journal (routes/journal.ts); src/store's Store has it. */
  addJournalEntry?(e: NewJournalEntry): Promise<JournalEntry>;
  listJournal?(q?: JournalQuery): Promise<JournalEntry[]>;
  /** Resolves when the store answers; rejects when it is down. */
  ping(): Promise<void>;
  /** Where reads go: the read replica (its lag, up or down) or the primary; src/store's Store has it. */
  readStatus?(timeoutMs?: number): Promise<ReadStatus>;
  close(): Promise<void>;
}

export type ProgramKind = 'schedules' | 'rules';

/** A row of the `schedules` or `rules` table. */
export interface ProgramRow {
  id: string;
  config: Record<string, unknown>;
  enabled: boolean;
  /** unix ms */
  updatedAt: number;
  by: string | null;
}
