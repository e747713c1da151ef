import { DbcError } from '../errors.js';
import type { DbcDatabase, DbcMessage, DbcSignal } from './types.js';

/**
 * A small DBC parser: BO_, SG_ (with `M` / `mN` / `mNM` multiplexer markers),
 * VAL_, SIG_VALTYPE_, SG_MUL_VAL_ (extended multiplexing), BA_DEF_ / BA_ for
 * the `VFrameFormat` message attribute (extended / FD). Comments (CM_) and
 * every other statement are skipped, including ones spread over several
 * lines. Throws {@link DbcError} with the line number on malformed BO_/SG_.
 */

/** DBC id bit 31 marks an extended (29-bit) id. */
const EXTENDED_FLAG = 0x80000000;

/** Vector's default VFrameFormat enumeration, used when the file does not define one. */
const DEFAULT_FRAME_FORMATS = [
  'StandardCAN',
  'ExtendedCAN',
  'reserved',
  'J1939PG',
  'reserved',
  'reserved',
  'reserved',
  'reserved',
  'reserved',
  'reserved',
  'reserved',
  'reserved',
  'reserved',
  'reserved',
  'StandardCAN_FD',
  'ExtendedCAN_FD',
];

/** Statements that end with `;` and may span lines. */
const SEMICOLON_STATEMENTS = new Set([
  'CM_',
  'VAL_',
  'VAL_TABLE_',
  'BA_DEF_',
  'BA_DEF_DEF_',
  'BA_',
  'BA_DEF_REL_',
  'BA_REL_',
  'BA_DEF_DEF_REL_',
  'BA_SGTYPE_',
  'BA_DEF_SGTYPE_',
  'SIG_VALTYPE_',
  'SIGTYPE_VALTYPE_',
  'SIG_GROUP_',
  'SG_MUL_VAL_',
  'BO_TX_BU_',
  'EV_',
  'ENVVAR_DATA_',
  'SGTYPE_',
  'SGTYPE_VAL_',
  'SIG_TYPE_REF_',
  'CAT_DEF_',
  'CAT_',
  'FILTER',
  'BU_SG_REL_',
  'BU_EV_REL_',
  'BU_BO_REL_',
]);

const BO_RE = /^BO_\s+(\d+)\s+([A-Za-z_][\w]*)\s*:\s*(\d+)\s*(\S*)\s*$/;
const SG_RE =
  /^SG_\s+([A-Za-z_]\w*)\s*(M|m\d+M?)?\s*:\s*(\d+)\s*\|\s*(\d+)\s*@\s*([01])\s*([+-])\s*\(\s*([^,\s]+)\s*,\s*([^)\s]+)\s*\)\s*\[\s*([^|\s]+)\s*\|\s*([^\]\s]+)\s*\]\s*"((?:[^"\\]|\\.)*)"\s*(.*)$/;

interface RawMessage extends DbcMessage {
  rawId: number;
  /** mN markers kept until SG_MUL_VAL_ is known. */
  muxValues: Map<string, number>;
}

export function parseDbc(text: string): DbcDatabase {
  const lines = text.split(/\r\n|\n|\r/);
  const messages: RawMessage[] = [];
  const byRawId = new Map<number, RawMessage>();
  const statements: Array<{ kw: string; body: string; line: number }> = [];
  let version = '';
  let nodes: string[] = [];
  let current: RawMessage | null = null;

  let i = 0;
  while (i < lines.length) {
    const lineNo = i + 1;
    const raw = lines[i] as string;
    const line = raw.trim();
    if (line === '' || line.startsWith('//')) {
      i++;
      continue;
    }
    const kw = /^[A-Za-z_]+/.exec(line)?.[0] ?? '';
    if (kw === 'NS_') {
      // The new-symbols list: indented names until a non-indented line.
      i++;
      while (i < lines.length && /^\s+\S/.test(lines[i] as string) && !/^\s*SG_\s/.test(lines[i] as string)) i++;
      continue;
    }
    if (kw === 'VERSION') {
      version = /"((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? '';
      i++;
      continue;
    }
    if (kw === 'BU_') {
      nodes = line
        .replace(/^BU_\s*:?/, '')
        .trim()
        .split(/\s+/)
        .filter((s) => s !== '');
      i++;
      continue;
    }
    if (kw === 'BO_') {
      const m = BO_RE.exec(line);
      if (!m) throw new DbcError(`malformed BO_: ${line}`, lineNo);
      const rawId = Number(m[1]);
      const extended = rawId >= EXTENDED_FLAG || rawId > 0x7ff;
      const id = rawId >= EXTENDED_FLAG ? rawId - EXTENDED_FLAG : rawId;
      const length = Number(m[3]);
      if (id > 0x1fffffff) {
        // VECTOR__INDEPENDENT_SIG_MSG (0xC0000000) and the like: a container for
        // signals not sent in any frame. Parse its signals, keep no message.
        current = {
          rawId,
          id,
          extended: true,
          fd: false,
          name: m[2] as string,
          length,
          sender: '',
          signals: [],
          muxValues: new Map(),
        };
        i++;
        continue;
      }
      if (length > 64) throw new DbcError(`message length ${length} exceeds 64`, lineNo);
      current = {
        rawId,
        id,
        extended,
        fd: length > 8,
        name: m[2] as string,
        length,
        sender: m[4] ?? '',
        signals: [],
        muxValues: new Map(),
      };
      messages.push(current);
      byRawId.set(rawId, current);
      i++;
      continue;
    }
    if (kw === 'SG_') {
      if (!current) throw new DbcError('SG_ outside a BO_', lineNo);
      current.signals.push(parseSignal(line, lineNo, current));
      i++;
      continue;
    }
    if (SEMICOLON_STATEMENTS.has(kw)) {
      // Collect up to the terminating `;` outside a string, across lines.
      let body = '';
      let inStr = false;
      let done = false;
      let j = i;
      let col = raw.indexOf(kw) + kw.length;
      while (j < lines.length && !done) {
        const l = lines[j] as string;
        for (let c = col; c < l.length; c++) {
          const ch = l[c];
          if (inStr) {
            if (ch === '\\') {
              body += ch + (l[c + 1] ?? '');
              c++;
              continue;
            }
            if (ch === '"') inStr = false;
          } else if (ch === '"') inStr = true;
          else if (ch === ';') {
            done = true;
            break;
          }
          body += ch;
        }
        body += '\n';
        j++;
        col = 0;
      }
      statements.push({ kw, body: body.trim(), line: lineNo });
      i = j;
      continue;
    }
    // Anything else (BS_, unknown keywords) is skipped line by line.
    i++;
  }

  let formats = DEFAULT_FRAME_FORMATS;
  for (const st of statements) {
    if (st.kw === 'BA_DEF_') {
      const m = /^BO_\s+"VFrameFormat"\s+ENUM\s+(.*)$/s.exec(st.body);
      if (m) formats = [...(m[1] as string).matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1] as string);
    }
  }
  for (const st of statements) applyStatement(st, byRawId, formats);

  for (const msg of messages) resolveMultiplexing(msg);
  return {
    version,
    nodes,
    messages: messages.map(({ rawId: _r, muxValues: _m, ...m }) => m),
  };
}

function num(text: string, what: string, lineNo: number): number {
  const n = Number(text);
  if (!Number.isFinite(n)) throw new DbcError(`${what} "${text}" is not a number`, lineNo);
  return n;
}

function parseSignal(line: string, lineNo: number, msg: RawMessage): DbcSignal {
  const m = SG_RE.exec(line);
  if (!m) throw new DbcError(`malformed SG_: ${line}`, lineNo);
  const name = m[1] as string;
  const mux = m[2] ?? '';
  const startBit = num(m[3] as string, 'start bit', lineNo);
  const length = num(m[4] as string, 'length', lineNo);
  if (length < 1 || length > 64) throw new DbcError(`signal ${name}: length ${length} is not 1–64`, lineNo);
  if (startBit > 511) throw new DbcError(`signal ${name}: start bit ${startBit} is beyond 64 bytes`, lineNo);
  if (mux.startsWith('m')) msg.muxValues.set(name, Number(/^m(\d+)/.exec(mux)?.[1]));
  return {
    name,
    startBit,
    length,
    byteOrder: m[5] === '0' ? 'big' : 'little',
    signed: m[6] === '-',
    valueType: 'integer',
    factor: num(m[7] as string, 'factor', lineNo),
    offset: num(m[8] as string, 'offset', lineNo),
    min: num(m[9] as string, 'minimum', lineNo),
    max: num(m[10] as string, 'maximum', lineNo),
    unit: (m[11] as string).replace(/\\(.)/g, '$1'),
    receivers: (m[12] as string).split(/[\s,]+/).filter((s) => s !== '' && s !== 'Vector__XXX'),
    isMultiplexer: mux === 'M' || mux.endsWith('M'),
    multiplexerSignal: null,
    multiplexerRanges: null,
    valueTable: null,
  };
}

function applyStatement(
  st: { kw: string; body: string; line: number },
  byRawId: Map<number, RawMessage>,
  formats: string[],
): void {
  const findSignal = (rawId: string, name: string) =>
    byRawId.get(Number(rawId))?.signals.find((s) => s.name === name) ?? null;
  switch (st.kw) {
    case 'VAL_': {
      const m = /^(\d+)\s+([A-Za-z_]\w*)\s+(.*)$/s.exec(st.body);
      if (!m) return; // VAL_ of an environment variable: not ours
      const sig = findSignal(m[1] as string, m[2] as string);
      if (!sig) return;
      const table = new Map<number, string>();
      for (const p of (m[3] as string).matchAll(/(-?\d+(?:\.\d+)?)\s+"((?:[^"\\]|\\.)*)"/g)) {
        table.set(Number(p[1]), (p[2] as string).replace(/\\(.)/g, '$1'));
      }
      sig.valueTable = table;
      return;
    }
    case 'SIG_VALTYPE_': {
      const m = /^(\d+)\s+([A-Za-z_]\w*)\s*:?\s*([0-3])$/.exec(st.body);
      if (!m) throw new DbcError(`malformed SIG_VALTYPE_: ${st.body}`, st.line);
      const sig = findSignal(m[1] as string, m[2] as string);
      if (!sig) return;
      const t = Number(m[3]);
      if (t === 1) sig.valueType = 'float32';
      else if (t === 2) sig.valueType = 'float64';
      const want = t === 1 ? 32 : t === 2 ? 64 : sig.length;
      if (sig.length !== want) throw new DbcError(`signal ${sig.name}: a ${sig.valueType} needs ${want} bits`, st.line);
      return;
    }
    case 'SG_MUL_VAL_': {
      const m = /^(\d+)\s+([A-Za-z_]\w*)\s+([A-Za-z_]\w*)\s+(.*)$/s.exec(st.body);
      if (!m) throw new DbcError(`malformed SG_MUL_VAL_: ${st.body}`, st.line);
      const sig = findSignal(m[1] as string, m[2] as string);
      if (!sig) return;
      sig.multiplexerSignal = m[3] as string;
      sig.multiplexerRanges = [...(m[4] as string).matchAll(/(\d+)\s*-\s*(\d+)/g)].map(
        (r) => [Number(r[1]), Number(r[2])] as [number, number],
      );
      return;
    }
    case 'BA_': {
      const m = /^"VFrameFormat"\s+BO_\s+(\d+)\s+("?)([^"\s]+)\2$/.exec(st.body);
      if (!m) return;
      const msg = byRawId.get(Number(m[1]));
      if (!msg) return;
      const format = m[2] === '"' ? (m[3] as string) : (formats[Number(m[3])] ?? '');
      if (/Extended|J1939/i.test(format)) msg.extended = true;
      if (/FD/i.test(format)) msg.fd = true;
      return;
    }
    default:
      return; // CM_ and the rest: ignored on purpose
  }
}

/** Simple multiplexing: every `mN` signal depends on the message's `M` signal with value N. */
function resolveMultiplexing(msg: RawMessage): void {
  const switches = msg.signals.filter((s) => s.isMultiplexer);
  const root = switches.find((s) => !msg.muxValues.has(s.name)) ?? switches[0];
  for (const sig of msg.signals) {
    const v = msg.muxValues.get(sig.name);
    if (v === undefined) continue;
    if (sig.multiplexerSignal === null) {
      if (!root) throw new DbcError(`message ${msg.name}: signal ${sig.name} is multiplexed but no M signal`, 0);
      sig.multiplexerSignal = root.name;
      sig.multiplexerRanges = [[v, v]];
    }
  }
  for (const sig of msg.signals) {
    if (sig.multiplexerSignal !== null && !msg.signals.some((s) => s.name === sig.multiplexerSignal)) {
      throw new DbcError(`message ${msg.name}: ${sig.name} depends on unknown ${sig.multiplexerSignal}`, 0);
    }
  }
}
