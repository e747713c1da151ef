import { FrameError } from './errors.js';

/**
 * One CAN frame as Canopy handles it everywhere: classic (0–8 bytes) or CAN FD
 * (0–64 bytes in the FD sizes), standard (11-bit) or extended (29-bit) id.
 */
export interface CanFrame {
  /** The arbitration id without flags: 0–0x7FF standard, 0–0x1FFFFFFF extended. */
  id: number;
  /** 29-bit id. */
  extended: boolean;
  /** Remote transmission request (no data; `dlc` is the requested length). */
  rtr: boolean;
  /** CAN FD frame. */
  fd: boolean;
  /** Error frame (SocketCAN CAN_ERR_FLAG); `id` then holds the error class bits. */
  error: boolean;
  /** Data length in bytes (for RTR: the requested length). */
  dlc: number;
  data: Uint8Array;
  /** Reception time, unix milliseconds. */
  ts: number;
}

/** The fields of a `can:raw` stream entry (docs/contracts.md), exactly (a type alias so it fits `Record<string, string>`). */
export type StreamFields = {
  id: string;
  data: string;
  ts: string;
  dlc: string;
};

export const MAX_STANDARD_ID = 0x7ff;
export const MAX_EXTENDED_ID = 0x1fffffff;
/** The payload sizes a CAN FD frame can have. */
export const FD_LENGTHS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64];
const FD_LENGTH_SET = new Set(FD_LENGTHS);

/** True when `n` bytes is a payload size a (classic or FD) frame can carry. */
export function isValidLength(n: number): boolean {
  return FD_LENGTH_SET.has(n);
}

/** CAN FD DLC code (0–15) → payload bytes. */
export function dlcToLength(code: number): number {
  if (!Number.isInteger(code) || code < 0 || code > 15) throw new FrameError('BAD_DLC', `DLC code ${code} is not 0–15`);
  return FD_LENGTHS[code] as number;
}

/** Payload bytes → the smallest CAN FD DLC code that holds them. */
export function lengthToDlc(n: number): number {
  for (let i = 0; i < FD_LENGTHS.length; i++) if ((FD_LENGTHS[i] as number) >= n) return i;
  throw new FrameError('OVERSIZED', `${n} bytes exceed the CAN FD maximum of 64`);
}

/** Builds a frame with defaults for the flags; `dlc` defaults to the data length. */
export function makeFrame(
  id: number,
  data: Uint8Array | number[],
  ts: number,
  opts: { extended?: boolean; rtr?: boolean; fd?: boolean; error?: boolean; dlc?: number } = {},
): CanFrame {
  const bytes = data instanceof Uint8Array ? data : Uint8Array.from(data);
  return {
    id,
    extended: opts.extended ?? id > MAX_STANDARD_ID,
    rtr: opts.rtr ?? false,
    fd: opts.fd ?? bytes.length > 8,
    error: opts.error ?? false,
    dlc: opts.dlc ?? bytes.length,
    data: bytes,
    ts,
  };
}

const HEX2: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));

/** `0x101` for a standard id (3 hex digits), `0x00000343` for an extended one (8), as candump prints them. */
export function formatCanId(id: number, extended: boolean): string {
  return (
    '0x' +
    id
      .toString(16)
      .toUpperCase()
      .padStart(extended ? 8 : 3, '0')
  );
}

/** `AA FF 04 10`: upper-case hex bytes separated by one space; `""` for no data. */
export function formatData(data: Uint8Array): string {
  const n = data.length;
  if (n === 0) return '';
  let s = HEX2[data[0] as number] as string;
  for (let i = 1; i < n; i++) s += ' ' + (HEX2[data[i] as number] as string);
  return s;
}

/** The hex value of one character code, or -1. */
function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Parses hex bytes: `AA FF 04 10` (single spaces) or `AAFF0410`. Returns null
 * when the text is not whole hex bytes.
 */
export function parseHexBytes(text: string, maxBytes = 64): Uint8Array | null {
  const len = text.length;
  if (len === 0) return new Uint8Array(0);
  const spaced = len > 2 && text.charCodeAt(2) === 32;
  const count = spaced ? (len + 1) / 3 : len / 2;
  if (!Number.isInteger(count) || count > maxBytes) return null;
  const out = new Uint8Array(count);
  const step = spaced ? 3 : 2;
  for (let i = 0, p = 0; i < count; i++, p += step) {
    const hi = hexVal(text.charCodeAt(p));
    const lo = hexVal(text.charCodeAt(p + 1));
    if (hi < 0 || lo < 0) return null;
    if (spaced && i < count - 1 && text.charCodeAt(p + 2) !== 32) return null;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Longest `data` text accepted before parsing (64 bytes spaced = 191 chars). */
const MAX_DATA_CHARS = 64 * 3;

/**
 * Parses the fields of one `can:raw` entry. Never throws: returns a
 * {@link FrameError} (with a stable `code`) for anything malformed, so the
 * worker can dead-letter it with the reason.
 *
 * - `id`: `0x` + hex; 8 hex digits or a value above 0x7FF means extended.
 * - `data`: hex bytes (see {@link parseHexBytes}); more than 64 bytes → OVERSIZED.
 * - `dlc`: the payload length in bytes; must equal the number of data bytes;
 *   above 8 it must be a CAN FD size (the frame is then FD).
 * - `ts`: unix milliseconds (a non-negative finite number, truncated to an integer).
 */
export function parseStreamFields(fields: Record<string, string | undefined>): CanFrame | FrameError {
  const idText = fields.id;
  const dataText = fields.data;
  const tsText = fields.ts;
  const dlcText = fields.dlc;
  if (idText === undefined) return new FrameError('MISSING_FIELD', 'field "id" is missing');
  if (dataText === undefined) return new FrameError('MISSING_FIELD', 'field "data" is missing');
  if (tsText === undefined) return new FrameError('MISSING_FIELD', 'field "ts" is missing');
  if (dlcText === undefined) return new FrameError('MISSING_FIELD', 'field "dlc" is missing');

  const idm = /^0[xX]([0-9a-fA-F]{1,8})$/.exec(idText);
  if (!idm) return new FrameError('BAD_ID', `id ${clip(idText)} is not 0x followed by 1–8 hex digits`);
  const digits = idm[1] as string;
  const id = parseInt(digits, 16);
  if (id > MAX_EXTENDED_ID) return new FrameError('BAD_ID', `id ${idText} exceeds 29 bits`);
  const extended = digits.length === 8 || id > MAX_STANDARD_ID;

  if (dataText.length > MAX_DATA_CHARS) {
    return new FrameError('OVERSIZED', `data of ${dataText.length} characters exceeds 64 bytes`);
  }
  const data = parseHexBytes(dataText, 64);
  if (data === null) return new FrameError('BAD_HEX', `data ${clip(dataText)} is not hex bytes`);

  if (!/^\d{1,3}$/.test(dlcText)) return new FrameError('BAD_DLC', `dlc ${clip(dlcText)} is not a number 0–64`);
  const dlc = Number(dlcText);
  if (dlc > 64) return new FrameError('OVERSIZED', `dlc ${dlc} exceeds 64`);
  if (dlc !== data.length) {
    return new FrameError('DLC_MISMATCH', `dlc ${dlc} but ${data.length} data bytes`);
  }
  if (!FD_LENGTH_SET.has(dlc)) return new FrameError('BAD_LENGTH', `${dlc} bytes is not a CAN FD payload size`);

  const ts = Number(tsText);
  if (tsText === '' || !Number.isFinite(ts) || ts < 0)
    return new FrameError('BAD_TS', `ts ${clip(tsText)} is not unix ms`);

  return { id, extended, rtr: false, fd: dlc > 8, error: false, dlc, data, ts: Math.trunc(ts) };
}

/** The `can:raw` fields of a frame: exactly `{id, data, ts, dlc}` (dlc = number of data bytes). */
export function frameToStreamFields(frame: CanFrame): StreamFields {
  return {
    id: formatCanId(frame.id, frame.extended),
    data: formatData(frame.data),
    ts: String(Math.trunc(frame.ts)),
    dlc: String(frame.data.length),
  };
}

function clip(s: string): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s);
}
