import { makeFrame, type CanFrame } from './frame.js';

/**
 * Encoders for the default sensor-node protocol (docs/pipeline.md, `config/canopy.dbc`):
 * standard ids `node << 8 | type`, little-endian integers. The simulator and
 * the tests build frames with these; decoding always goes through the DBC.
 */

export const MessageType = {
  PT100: 0x01,
  PRESSURE: 0x02,
  SCD30: 0x03,
  WATER: 0x05,
  LAB: 0x06,
  STATUS: 0x0f,
} as const;
export type MessageTypeName = keyof typeof MessageType;

/** PT100 fault bits (byte 4). */
export const FAULT_DRY = 0x01;
export const FAULT_WET = 0x02;

export function canId(node: number, type: number): number {
  return ((node << 8) | type) & 0x7ff;
}

/** Scales and rounds to an int16 (two's complement), saturating at the type's limits. */
function i16(v: number, scale: number): number {
  const r = Math.round(v / scale);
  return Math.max(-32768, Math.min(32767, r)) & 0xffff;
}
function u16(v: number, scale: number): number {
  return Math.max(0, Math.min(0xffff, Math.round(v / scale)));
}
function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
}

export function encodePt100(node: number, dryC: number, wetC: number, fault: number, ts: number): CanFrame {
  const b = new Uint8Array(5);
  put16(b, 0, i16(dryC, 0.01));
  put16(b, 2, i16(wetC, 0.01));
  b[4] = fault & 0xff;
  return makeFrame(canId(node, MessageType.PT100), b, ts);
}

export function encodePressure(node: number, hPa: number, ts: number): CanFrame {
  const b = new Uint8Array(2);
  put16(b, 0, u16(hPa, 0.1));
  return makeFrame(canId(node, MessageType.PRESSURE), b, ts);
}

export function encodeScd30(node: number, co2ppm: number, tempC: number, rhPct: number, ts: number): CanFrame {
  const b = new Uint8Array(6);
  put16(b, 0, u16(co2ppm, 1));
  put16(b, 2, i16(tempC, 0.01));
  put16(b, 4, u16(rhPct, 0.01));
  return makeFrame(canId(node, MessageType.SCD30), b, ts);
}

export function encodeWater(node: number, tempC: number, ts: number): CanFrame {
  const b = new Uint8Array(2);
  put16(b, 0, i16(tempC, 0.01));
  return makeFrame(canId(node, MessageType.WATER), b, ts);
}

export function encodeLab(node: number, tempC: number, ts: number): CanFrame {
  const b = new Uint8Array(2);
  put16(b, 0, i16(tempC, 0.01));
  return makeFrame(canId(node, MessageType.LAB), b, ts);
}

export function encodeStatus(node: number, uptimeS: number, errors: number, ts: number): CanFrame {
  const b = new Uint8Array(5);
  const u = Math.max(0, Math.min(0xffffffff, Math.floor(uptimeS)));
  b[0] = u & 0xff;
  b[1] = (u >>> 8) & 0xff;
  b[2] = (u >>> 16) & 0xff;
  b[3] = (u >>> 24) & 0xff;
  b[4] = errors & 0xff;
  return makeFrame(canId(node, MessageType.STATUS), b, ts);
}
