import { DbcError } from '../errors.js';
import { resolveMultiplexing, type MessageUnderConstruction } from './multiplex.js';
import { KEYWORDS, preview, splitStatements, WarningSink, type Statement } from './statements.js';
import type { DbcDatabase, DbcMessage, DbcSignal } from './types.js';

/**
 * A tolerant DBC parser. It reads what cantools and canmatrix read (see
 * docs/can.md): BO_, SG_ (with `M` / `mN` / `mNM` multiplexer markers),
 * VAL_, SIG_VALTYPE_ (IEEE float / double), SG_MUL_VAL_ (extended
 * multiplexing), BA_DEF_ / BA_ for the `VFrameFormat` message attribute
 * (extended / FD); every other statement (CM_, BA_*, VAL_TABLE_, EV_,
 * BO_TX_BU_, SIG_GROUP_, …) and unknown keywords are skipped, the latter
 * with a warning. What cannot be read or decoded throws {@link DbcError}
 * naming the line.
 */

/** DBC id bit 31 marks an extended (29-bit) id. */
const EXTENDED_FLAG = 0x80000000;
const PSEUDO_MESSAGE = 'VECTOR__INDEPENDENT_SIG_MSG';

/** Vector's default VFrameFormat enumeration, used when the file does not define one. */
const DEFAULT_FRAME_FORMATS = [
  'StandardCAN',
  'ExtendedCAN',
  'reserved',
  'J1939PG',
  ...Array<string>(10).fill('reserved'),
  'StandardCAN_FD',
  'ExtendedCAN_FD',
];

/** A number as DBC writers spell it (cantools' NUMBER token, plus a leading-dot fraction). */
const NUM = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;
const BO_RE = /^(\d+)\s+(\w+)\s*:\s*(\d+)\s*(.*)$/;
const SG_RE = new RegExp(
  String.raw`^(\w+)(?:\s+(M|m\d+M?))?\s*:\s*(\d+)\s*\|\s*(\d+)\s*@\s*(\d)\s*([+-])\s*` +
    String.raw`\(\s*(${NUM})\s*,\s*(${NUM})\s*\)\s*\[\s*(${NUM})\s*\|\s*(${NUM})\s*\]` +
    // Unit and receivers: no two adjacent quantifiers that can both take spaces (linear time on any line).
    String.raw`(?:\s*"((?:[^"\\]|\\.)*)")?([^"]*)$`,
);
const SG_FORMAT =
  'SG_ <name> [M|m<n>] : <start>|<length>@<0|1><+|-> (<factor>,<offset>) [<min>|<max>] "<unit>" <receivers>';

/** Names that cannot be keys of a plain object. */
const RESERVED_NAMES = new Set(['__proto__']);

export function parseDbc(text: string): DbcDatabase {
  const warnings = new WarningSink();
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const statements = splitStatements(source, warnings);
  let version = '';
  let nodes: string[] = [];
  let sawKeyword = false;
  const messages: MessageUnderConstruction[] = [];
  const byRawId = new Map<number, MessageUnderConstruction>();
  const later: Statement[] = [];
  let current: MessageUnderConstruction | null = null;

  for (const st of statements) {
    if (KEYWORDS.has(st.kw)) sawKeyword = true;
    switch (st.kw) {
      case 'VERSION':
        version = unescape(/"((?:[^"\\]|\\.)*)"/.exec(st.text)?.[1] ?? '');
        break;
      case 'BU_':
        nodes = st.text
          .replace(/^:/, '')
          .split(/[\s,;]+/)
          .filter((s) => s !== '');
        break;
      case 'BO_': {
        current = readMessage(st, warnings);
        if (current.pseudo) break;
        const previous = byRawId.get(current.rawId);
        if (previous) {
          warnings.add(st.line, `message id ${current.rawId} also defined on line ${previous.line}; this one is used`);
          previous.replaced = true;
        }
        messages.push(current);
        byRawId.set(current.rawId, current);
        break;
      }
      case 'SG_':
        if (!current) throw new DbcError('SG_ outside a BO_ (no message before it)', st.line);
        addSignal(current, st, warnings);
        break;
      case 'BS_':
      case 'NS_DESC_':
        break;
      default:
        if (KEYWORDS.has(st.kw)) later.push(st);
        else warnings.add(st.line, `unknown statement ${preview(st.kw)} skipped`);
    }
  }
  if (!sawKeyword) throw new DbcError('no DBC statement (VERSION, BU_, BO_, …) found', 1, 'DBC_EMPTY');

  let formats = DEFAULT_FRAME_FORMATS;
  for (const st of later) {
    if (st.kw !== 'BA_DEF_') continue;
    const m = /^BO_\s+"VFrameFormat"\s+ENUM\s+(.*)$/s.exec(st.text);
    if (m) formats = [...(m[1] as string).matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1] as string);
  }
  for (const st of later) applyStatement(st, byRawId, formats, warnings);
  const used = messages.filter((m) => !m.replaced);
  for (const msg of used) resolveMultiplexing(msg, warnings);

  // Two raw ids can name the same frame (0x800 read as extended, and 0x80000800): the last wins.
  const byKey = new Map<string, MessageUnderConstruction>();
  for (const msg of used) {
    const key = `${msg.message.extended ? 'x' : 's'}${msg.message.id}`;
    const previous = byKey.get(key);
    if (previous) warnings.add(msg.line, `message ${msg.message.name} has the frame id of line ${previous.line}`);
    byKey.set(key, msg);
  }
  const kept = new Set(byKey.values());
  return {
    version,
    nodes,
    messages: used.filter((m) => kept.has(m)).map((m) => m.message),
    warnings: warnings.finish(),
  };
}

function unescape(s: string): string {
  return s.replace(/\\(.)/gs, '$1');
}

function checkName(name: string, what: string, line: number): void {
  if (RESERVED_NAMES.has(name)) throw new DbcError(`${what} name "${name}" is reserved`, line, 'DBC_INVALID');
}

function readMessage(st: Statement, warnings: WarningSink): MessageUnderConstruction {
  const m = BO_RE.exec(st.text);
  if (!m)
    throw new DbcError(`malformed BO_ (expected BO_ <id> <name>: <length> <sender>): ${preview(st.text)}`, st.line);
  const rawId = Number(m[1]);
  const name = m[2] as string;
  const length = Number(m[3]);
  checkName(name, 'message', st.line);
  if (!(rawId <= 0xffffffff)) throw new DbcError(`message id ${m[1]} does not fit 32 bits`, st.line, 'DBC_INVALID');
  if (!(length <= 0xffff)) throw new DbcError(`message length ${m[3]} is not a frame length`, st.line, 'DBC_INVALID');
  const flagged = rawId >= EXTENDED_FLAG;
  const id = flagged ? rawId - EXTENDED_FLAG : rawId;
  const pseudo = id > 0x1fffffff;
  if (pseudo && name !== PSEUDO_MESSAGE) {
    warnings.add(st.line, `message ${name}: id ${rawId} is no CAN id; its signals are read and not decoded`);
  } else if (!pseudo && !flagged && id > 0x7ff) {
    warnings.add(st.line, `message ${name}: id ${id} exceeds 11 bits without the extended flag; read as extended`);
  }
  if (!pseudo && length > 64) {
    warnings.add(st.line, `message ${name}: length ${length} exceeds a CAN FD frame (64 bytes)`);
  }
  const message: DbcMessage = {
    id,
    extended: flagged || id > 0x7ff,
    fd: length > 8,
    name,
    length,
    sender: (m[4] as string).split(/[\s,]+/)[0] ?? '',
    signals: [],
  };
  return {
    message,
    rawId,
    line: st.line,
    pseudo,
    muxValues: new Map(),
    byName: new Map(),
    replaced: false,
    mulValLines: new Map(),
  };
}

function num(text: string, what: string, line: number): number {
  const n = Number(text);
  if (!Number.isFinite(n)) throw new DbcError(`${what} ${preview(text)} is not a finite number`, line, 'DBC_INVALID');
  return n;
}

/** Bytes a signal occupies: the index of its last byte + 1. */
function bytesNeeded(startBit: number, length: number, big: boolean): number {
  if (!big) return ((startBit + length - 1) >> 3) + 1;
  const msb = (startBit >> 3) * 8 + (7 - (startBit & 7));
  return ((msb + length - 1) >> 3) + 1;
}

function addSignal(msg: MessageUnderConstruction, st: Statement, warnings: WarningSink): void {
  const m = SG_RE.exec(st.text);
  if (!m) throw new DbcError(`malformed SG_ (expected ${SG_FORMAT}): ${preview(st.text)}`, st.line);
  const name = m[1] as string;
  const mux = m[2] ?? '';
  const startBit = Number(m[3]);
  const length = Number(m[4]);
  const big = m[5] === '0';
  checkName(name, 'signal', st.line);
  if (m[5] !== '0' && m[5] !== '1') {
    throw new DbcError(`signal ${name}: byte order @${m[5]} is neither @0 (big) nor @1 (little)`, st.line);
  }
  if (!(length >= 1 && length <= 64)) {
    throw new DbcError(`signal ${name}: length ${m[4]} is not 1–64 bits`, st.line, 'DBC_INVALID');
  }
  if (!(startBit <= 511) || bytesNeeded(startBit, length, big) > 64) {
    throw new DbcError(`signal ${name}: bits ${m[3]}|${m[4]} lie beyond 64 bytes`, st.line, 'DBC_INVALID');
  }
  const firstLine = msg.byName.get(name)?.line;
  if (firstLine !== undefined) {
    throw new DbcError(
      `signal ${name} defined twice in ${msg.message.name} (first on line ${firstLine})`,
      st.line,
      'DBC_INVALID',
    );
  }
  if (!msg.pseudo && bytesNeeded(startBit, length, big) > msg.message.length) {
    warnings.add(st.line, `signal ${name} reaches beyond the ${msg.message.length} bytes of ${msg.message.name}`);
  }
  if (mux.startsWith('m')) {
    const value = Number(/^m(\d+)/.exec(mux)?.[1]);
    if (!Number.isSafeInteger(value))
      throw new DbcError(`signal ${name}: multiplexer value ${mux}`, st.line, 'DBC_INVALID');
    msg.muxValues.set(name, value);
  }
  const signal: DbcSignal = {
    name,
    startBit,
    length,
    byteOrder: big ? 'big' : 'little',
    signed: m[6] === '-',
    valueType: 'integer',
    factor: num(m[7] as string, 'factor', st.line),
    offset: num(m[8] as string, 'offset', st.line),
    min: Number(m[9]),
    max: Number(m[10]),
    unit: unescape(m[11] ?? ''),
    receivers: (m[12] as string).split(/[\s,]+/).filter((s) => s !== '' && s !== 'Vector__XXX'),
    isMultiplexer: mux === 'M' || mux.endsWith('M'),
    multiplexerSignal: null,
    multiplexerRanges: null,
    valueTable: null,
  };
  msg.message.signals.push(signal);
  msg.byName.set(name, { signal, line: st.line });
}

function applyStatement(
  st: Statement,
  byRawId: Map<number, MessageUnderConstruction>,
  formats: string[],
  warnings: WarningSink,
): void {
  const findSignal = (rawId: string, name: string): DbcSignal | null => {
    const sig = byRawId.get(Number(rawId))?.byName.get(name)?.signal ?? null;
    if (!sig) warnings.add(st.line, `${st.kw} names signal ${name} of message ${rawId}, which does not exist`);
    return sig;
  };
  switch (st.kw) {
    case 'VAL_': {
      const m = /^(\d+)\s+(\w+)\s+(.*)$/s.exec(st.text);
      if (!m) return; // VAL_ of an environment variable: not ours
      const sig = findSignal(m[1] as string, m[2] as string);
      if (!sig) return;
      const table = new Map<number, string>();
      const body = m[3] as string;
      const pair = /\s*([-+]?\d+(?:\.\d+)?)\s+"((?:[^"\\]|\\.)*)"/y;
      let end = 0;
      for (let p = pair.exec(body); p !== null; p = pair.exec(body)) {
        table.set(Number(p[1]), unescape(p[2] as string));
        end = pair.lastIndex;
      }
      if (body.slice(end).trim() !== '') {
        warnings.add(
          st.line,
          `VAL_ of ${sig.name}: unreadable after ${table.size} labels: ${preview(body.slice(end))}`,
        );
      }
      sig.valueTable = table;
      return;
    }
    case 'SIG_VALTYPE_': {
      const m = /^(\d+)\s+(\w+)\s*:?\s*(\d+)$/.exec(st.text);
      if (!m) throw new DbcError(`malformed SIG_VALTYPE_ (expected SIG_VALTYPE_ <id> <signal> : <0|1|2>;)`, st.line);
      const t = Number(m[3]);
      if (t > 2) {
        warnings.add(st.line, `SIG_VALTYPE_ ${t} is unknown; signal ${m[2]} stays an integer`);
        return;
      }
      const sig = findSignal(m[1] as string, m[2] as string);
      if (!sig) return;
      sig.valueType = t === 1 ? 'float32' : t === 2 ? 'float64' : 'integer';
      const want = t === 1 ? 32 : t === 2 ? 64 : sig.length;
      if (sig.length !== want) {
        throw new DbcError(
          `signal ${sig.name}: a ${sig.valueType} needs ${want} bits, not ${sig.length}`,
          st.line,
          'DBC_INVALID',
        );
      }
      return;
    }
    case 'SG_MUL_VAL_': {
      const m = /^(\d+)\s+(\w+)\s+(\w+)\s+(.+)$/s.exec(st.text);
      if (!m)
        throw new DbcError(
          'malformed SG_MUL_VAL_ (expected SG_MUL_VAL_ <id> <signal> <selector> <lo>-<hi>, …;)',
          st.line,
        );
      const ranges = (m[4] as string).split(',').map((part) => {
        const r = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(part);
        if (!r) throw new DbcError(`SG_MUL_VAL_ range "${preview(part)}" is not <lo>-<hi>`, st.line);
        return [Number(r[1]), Number(r[2])] as [number, number];
      });
      const msg = byRawId.get(Number(m[1]));
      const sig = findSignal(m[1] as string, m[2] as string);
      if (!msg || !sig) return;
      sig.multiplexerSignal = m[3] as string;
      sig.multiplexerRanges = ranges;
      msg.mulValLines.set(sig.name, st.line);
      return;
    }
    case 'BA_': {
      const m = /^"VFrameFormat"\s+BO_\s+(\d+)\s+("?)([^"\s]+)\2$/.exec(st.text);
      if (!m) return;
      const msg = byRawId.get(Number(m[1]));
      if (!msg) return;
      const format = m[2] === '"' ? (m[3] as string) : (formats[Number(m[3])] ?? '');
      if (/Extended|J1939/i.test(format)) msg.message.extended = true;
      if (/FD/i.test(format)) msg.message.fd = true;
      return;
    }
    default:
      return; // CM_, BA_DEF_*, BO_TX_BU_, VAL_TABLE_, EV_, SIG_GROUP_, …: nothing Canopy decodes with
  }
}
