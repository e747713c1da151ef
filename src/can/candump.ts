import { FrameError } from './errors.js';
import { FD_LENGTHS, formatData, MAX_EXTENDED_ID, parseHexBytes, type CanFrame } from './frame.js';

/**
 * The `candump -L` log format of can-utils (also what `canplayer` reads):
 *
 *   (1700000000.123456) can0 123#DEADBEEF        classic, standard id (3 hex digits)
 *   (1700000000.123456) can0 18FF50E5#0102       classic, extended id (8 hex digits)
 *   (1700000000.123456) can0 123#R               remote request, (123#R4: with length 4)
 *   (1700000000.123456) can0 123##1AABB          CAN FD: flags nibble (1 = BRS, 2 = ESI), then data
 *   (1700000000.123456) can0 20000004#0004...    error frame (CAN_ERR_FLAG 0x20000000 in the id)
 *   (1700000000.123456) can0 123#1122334455667788_E   classic with a raw DLC above 8 (len8_dlc)
 *
 * Parsing never throws: a bad line is a typed result, so a reader loop can
 * count it and carry on.
 */

export type CandumpResult =
  | {
      ok: true;
      frame: CanFrame;
      iface: string;
      /** CAN FD flags nibble (BRS 1, ESI 2), 0 for classic. */ fdFlags: number;
    }
  | { ok: false; error: FrameError };

const CAN_ERR_FLAG = 0x20000000;
const LINE_RE = /^\((\d{1,12})\.(\d{1,9})\)\s+(\S{1,32})\s+(\S+)(?:\s+[RT])?\s*$/;
const FD_SET = new Set(FD_LENGTHS);

function bad(code: FrameError['code'], message: string): CandumpResult {
  return { ok: false, error: new FrameError(code, message) };
}

/** Parses hex text (pairs, '.' separators allowed) into at most `max` bytes; null when not hex. */
function hexBytes(text: string, max: number): Uint8Array | 'oversized' | null {
  const clean = text.includes('.') ? text.replace(/\./g, '') : text;
  if (clean.length > max * 2) return 'oversized';
  if (clean.length > 2 && clean.charCodeAt(2) === 32) return null;
  return parseHexBytes(clean, max);
}

export function parseCandumpLine(line: string): CandumpResult {
  if (line.length > 400) return bad('OVERSIZED', `line of ${line.length} characters is too long for a CAN frame`);
  const m = LINE_RE.exec(line);
  if (!m) return bad('BAD_LINE', `not a candump -L line: ${JSON.stringify(line.slice(0, 60))}`);
  const frac = (m[2] as string).padEnd(6, '0').slice(0, 6);
  const ts = Number(m[1]) * 1000 + Math.floor(Number(frac) / 1000);
  const iface = m[3] as string;
  const body = m[4] as string;

  const hash = body.indexOf('#');
  if (hash < 0) return bad('BAD_LINE', `no '#' in frame ${JSON.stringify(body)}`);
  const idText = body.slice(0, hash);
  let rest = body.slice(hash + 1);
  if (!/^[0-9a-fA-F]+$/.test(idText) || (idText.length !== 3 && idText.length !== 8)) {
    return bad('BAD_ID', `id ${JSON.stringify(idText)} is neither 3 nor 8 hex digits`);
  }
  const rawId = parseInt(idText, 16);
  const extended = idText.length === 8;
  const error = extended && (rawId & CAN_ERR_FLAG) !== 0;
  const id = extended ? rawId & MAX_EXTENDED_ID : rawId;
  if (!extended && id > 0x7ff) return bad('BAD_ID', `standard id ${idText} exceeds 0x7FF`);
  // (Object literals, not spreads: a spread here costs more than the whole parse.)
  const frame = (rtr: boolean, fd: boolean, dlc: number, data: Uint8Array): CanFrame => ({
    id,
    extended,
    rtr,
    fd,
    error,
    dlc,
    data,
    ts,
  });

  if (rest.startsWith('##')) return bad('UNSUPPORTED', 'CAN XL frames are not supported');
  if (rest.startsWith('#')) {
    // CAN FD: one hex digit of flags, then the data.
    const flags = parseInt(rest[1] ?? '', 16);
    if (Number.isNaN(flags)) return bad('BAD_HEX', `CAN FD flags ${JSON.stringify(rest[1] ?? '')} are not a hex digit`);
    const data = hexBytes(rest.slice(2), 64);
    if (data === 'oversized') return bad('OVERSIZED', 'CAN FD data exceeds 64 bytes');
    if (data === null) return bad('BAD_HEX', `CAN FD data ${JSON.stringify(rest.slice(2, 40))} is not hex bytes`);
    if (!FD_SET.has(data.length)) return bad('BAD_LENGTH', `${data.length} bytes is not a CAN FD payload size`);
    return { ok: true, iface, fdFlags: flags, frame: frame(false, true, data.length, data) };
  }

  const us = rest.lastIndexOf('_');
  if (us >= 0) {
    // len8_dlc suffix: a raw classic DLC 9–F; the payload stays 8 bytes.
    if (!/^[9a-fA-F]$/.test(rest.slice(us + 1))) return bad('BAD_DLC', `bad raw DLC suffix ${rest.slice(us)}`);
    rest = rest.slice(0, us);
  }
  if (rest[0] === 'R' || rest[0] === 'r') {
    const lenText = rest.slice(1);
    if (lenText !== '' && !/^[0-8]$/.test(lenText))
      return bad('BAD_DLC', `remote request length ${lenText} is not 0–8`);
    const dlc = lenText === '' ? 0 : Number(lenText);
    return { ok: true, iface, fdFlags: 0, frame: frame(true, false, dlc, new Uint8Array(0)) };
  }
  const data = hexBytes(rest, 8);
  if (data === 'oversized') return bad('OVERSIZED', 'classic CAN data exceeds 8 bytes');
  if (data === null) return bad('BAD_HEX', `data ${JSON.stringify(rest.slice(0, 40))} is not hex bytes`);
  return { ok: true, iface, fdFlags: 0, frame: frame(false, false, data.length, data) };
}

/** Writes a frame as one `candump -L` line (what `canplayer` and our replay read). */
export function formatCandumpLine(frame: CanFrame, iface = 'can0', fdFlags = 0): string {
  const ts = Math.trunc(frame.ts);
  const stamp = `(${Math.floor(ts / 1000)}.${String((ts % 1000) * 1000).padStart(6, '0')})`;
  const rawId = frame.error ? (frame.id | CAN_ERR_FLAG) >>> 0 : frame.id;
  const id = rawId
    .toString(16)
    .toUpperCase()
    .padStart(frame.extended || frame.error ? 8 : 3, '0');
  const hex = formatData(frame.data).replace(/ /g, '');
  let body: string;
  if (frame.rtr) body = `${id}#R${frame.dlc > 0 ? frame.dlc : ''}`;
  else if (frame.fd) body = `${id}##${(fdFlags & 0xf).toString(16).toUpperCase()}${hex}`;
  else body = `${id}#${hex}`;
  return `${stamp} ${iface} ${body}`;
}
