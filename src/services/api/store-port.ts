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
  /** Resolves when the store answers; rejects when it is down. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
