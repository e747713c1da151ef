import type { CanFrame } from '../can/frame.js';

/**
 * The rows the frame processor produces and the store writes. The store area
 * imports these shapes; keep the field names.
 */

/** One stored frame (`can_messages`), decoded or not. */
export interface CanMessageRow {
  /** The `can:raw` entry id: the idempotency key. */
  streamId: string;
  /** Frame time, unix ms. */
  timestamp: number;
  canId: number;
  /** Node number from the id scheme when the node is in the node map, else null. */
  nodeId: number | null;
  /** 'PT100', 'PRESSURE', 'SCD30', 'WATER', 'LAB', 'STATUS' (or the DBC message name), 'UNKNOWN' for unknown ids. */
  messageType: string;
  dlc: number;
  /** "AA FF 04 10" */
  rawData: string;
  /** DBC signal name → scaled value; null for unknown ids. */
  decodedData: Record<string, number> | null;
}

/** One accepted, calibrated reading (`sensor_readings`), derived rh_x / vpd_x included. */
export interface ReadingRow {
  streamId: string;
  /** unix ms */
  time: number;
  sensor: string;
  value: number;
  location: string;
  cluster: string;
}

/**
 * The accepted readings of one location/cluster in a batch; the worker
 * publishes each as a `SensorUpdate` (src/contracts/updates.ts), with the
 * timestamp as ISO-8601.
 */
export interface ReadingGroup {
  location: string;
  cluster: string;
  sensor_data: Record<string, number>;
  /** The newest reading time in `sensor_data`, unix ms. */
  timestamp: number;
}

export type RejectReason =
  /** The node's fault bit for this sensor is set. */
  | 'fault'
  /** Outside the valid physical range of the sensor's kind. */
  | 'range'
  /** Changed faster than the kind's maximum rate. */
  | 'rate'
  /** Wet bulb above dry bulb by more than the margin: the wick is dry (wet bulb, rh and vpd). */
  | 'dry_wick'
  /** A derived reading whose dry or wet bulb input was rejected. */
  | 'input_rejected'
  /** The decoded value is not a finite number. */
  | 'not_finite';

export interface Rejection {
  streamId: string;
  time: number;
  sensor: string;
  reason: RejectReason;
  /** The calibrated (or derived, unclamped) value; null when none could be computed. */
  value: number | null;
}

export interface ProcessResult {
  messages: CanMessageRow[];
  readings: ReadingRow[];
  /** One per location/cluster that had accepted readings in the batch. */
  updates: ReadingGroup[];
  rejected: Rejection[];
}

/** One stream entry handed to the processor. */
export interface ProcessorEntry {
  streamId: string;
  frame: CanFrame;
}
