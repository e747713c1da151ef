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
  /** Rows in time order, streamed from a cursor (constant memory). */
  exportReadings(q: { sensors: string[]; from: number; to: number }): AsyncIterable<ReadingRow>;
  /** Resolves when the store answers; rejects when it is down. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
