import type { DbcWarning } from './types.js';

/**
 * Splits DBC text into statements, tolerant of what real files contain:
 * CRLF / CR / LF line ends, a byte-order mark, indentation with tabs or
 * spaces, `//` comments anywhere outside strings, strings spanning lines
 * (CM_ texts), several `;`-statements on one line, a missing final `;`,
 * `NS_` lists with or without indentation, and unknown keywords (kept as
 * statements the parser skips with a warning).
 *
 * `BO_`, `SG_`, `BU_`, `BS_` and `VERSION` are one line each (as every
 * writer emits them); every other statement runs to its `;` outside a
 * string, or ends before the next line that starts with a keyword when the
 * `;` is missing.
 */

export interface Statement {
  /** The keyword (`BO_`, `CM_`, …) or the first word of an unknown statement. */
  kw: string;
  /** The text after the keyword without comments and the final `;`, trimmed. */
  text: string;
  /** 1-based line the statement starts on. */
  line: number;
}

/** Every keyword of the DBC format (Vector's list, as cantools tokenizes it). */
export const KEYWORDS: ReadonlySet<string> = new Set([
  'BA_',
  'BA_DEF_',
  'BA_DEF_DEF_',
  'BA_DEF_DEF_REL_',
  'BA_DEF_REL_',
  'BA_DEF_SGTYPE_',
  'BA_REL_',
  'BA_SGTYPE_',
  'BO_',
  'BO_TX_BU_',
  'BS_',
  'BU_',
  'BU_BO_REL_',
  'BU_EV_REL_',
  'BU_SG_REL_',
  'CAT_',
  'CAT_DEF_',
  'CM_',
  'ENVVAR_DATA_',
  'EV_',
  'EV_DATA_',
  'FILTER',
  'NS_',
  'NS_DESC_',
  'SG_',
  'SG_MUL_VAL_',
  'SGTYPE_',
  'SGTYPE_VAL_',
  'SIG_GROUP_',
  'SIG_TYPE_REF_',
  'SIG_VALTYPE_',
  'SIGTYPE_VALTYPE_',
  'VAL_',
  'VAL_TABLE_',
  'VERSION',
]);

/** Statements that are exactly one line. */
const LINE_STATEMENTS = new Set(['BO_', 'SG_', 'BU_', 'BS_', 'VERSION']);

const KEYWORD_LINE_RE = /^\s*([A-Za-z_][A-Za-z0-9_]*)/;
const SINGLE_WORD_RE = /^\s*[A-Za-z_][A-Za-z0-9_]*\s*$/;
const LOOKS_LIKE_FRAME_RE = /^\s*(BO_\s+\d|SG_\s+\w)/;

/** Collects warnings, keeping at most `limit` (hostile input must not grow memory without bound). */
export class WarningSink {
  readonly list: DbcWarning[] = [];
  private dropped = 0;
  constructor(private readonly limit = 200) {}

  add(line: number, message: string): void {
    if (this.list.length < this.limit) this.list.push({ line, message });
    else this.dropped++;
  }

  /** The warnings in line order (stable), with a note of how many were left out. */
  finish(): DbcWarning[] {
    this.list.sort((a, b) => a.line - b.line);
    if (this.dropped > 0) this.list.push({ line: 0, message: `${this.dropped} more warnings left out` });
    return this.list;
  }
}

function startsWithKeyword(line: string): boolean {
  const m = KEYWORD_LINE_RE.exec(line);
  return m !== null && KEYWORDS.has(m[1] as string);
}

/** Splits `text` into statements; never throws. */
export function splitStatements(text: string, warnings: WarningSink): Statement[] {
  const lines = text.split(/\r\n|\n|\r/);
  const out: Statement[] = [];
  // Sticky expressions, local: they carry lastIndex.
  const SPACE_RE = /\s*/y;
  const WORD_AT_RE = /[A-Za-z_][A-Za-z0-9_]*/y;
  const REST_EMPTY_RE = /\s*(?:\/\/.*)?$/y;
  let i = 0;
  let col = 0;

  /** Index of the next line that is neither blank nor only a comment, or lines.length. */
  const nextContentLine = (from: number): number => {
    let k = from;
    while (k < lines.length && /^\s*(\/\/.*)?$/.test(lines[k] as string)) k++;
    return k;
  };

  while (i < lines.length) {
    const line = lines[i] as string;
    SPACE_RE.lastIndex = col;
    SPACE_RE.test(line);
    const start = SPACE_RE.lastIndex;
    if (start >= line.length || line.startsWith('//', start)) {
      i++;
      col = 0;
      continue;
    }
    WORD_AT_RE.lastIndex = start;
    const kw = WORD_AT_RE.exec(line)?.[0];
    if (kw === undefined) {
      warnings.add(i + 1, `unexpected text skipped: ${preview(line.slice(start, start + 80))}`);
      i++;
      col = 0;
      continue;
    }
    if (kw === 'NS_') {
      // The new-symbols list: bare words (indented or not) up to the first other line.
      i++;
      col = 0;
      while (i < lines.length && (SINGLE_WORD_RE.test(lines[i] as string) || (lines[i] as string).trim() === '')) i++;
      continue;
    }

    const lineNo = i + 1;
    const oneLine = LINE_STATEMENTS.has(kw);
    let body = '';
    let inStr = false;
    let done = false;
    let c = start + kw.length;
    let swallowed = 0;
    for (;;) {
      const l = lines[i] as string;
      for (; c < l.length; c++) {
        const ch = l[c] as string;
        if (inStr) {
          if (ch === '\\' && c + 1 < l.length) {
            body += ch + (l[c + 1] as string);
            c++;
            continue;
          }
          if (ch === '"') inStr = false;
          body += ch;
          continue;
        }
        if (ch === '"') inStr = true;
        else if (ch === '/' && l[c + 1] === '/') {
          c = l.length;
          break;
        } else if (ch === ';' && !oneLine) {
          done = true;
          c++;
          break;
        }
        body += ch;
      }
      if (done) {
        // More text after the `;` on the same line: the next statement starts there.
        REST_EMPTY_RE.lastIndex = c;
        if (REST_EMPTY_RE.test(l)) {
          i++;
          c = 0;
        }
        break;
      }
      if (oneLine) {
        i++;
        c = 0;
        break;
      }
      if (!inStr) {
        const next = nextContentLine(i + 1);
        if (next >= lines.length || startsWithKeyword(lines[next] as string)) {
          if (KEYWORDS.has(kw)) warnings.add(lineNo, `${kw} statement without a final ';'`);
          i = next;
          c = 0;
          break;
        }
        i = next;
      } else {
        if (i + 1 < lines.length && LOOKS_LIKE_FRAME_RE.test(lines[i + 1] as string) && swallowed++ === 0) {
          warnings.add(i + 2, `line is inside the string that starts on line ${lineNo} (an unbalanced '"'?)`);
        }
        i++;
      }
      c = 0;
      if (i >= lines.length) {
        if (inStr) warnings.add(lineNo, `${kw} statement has an unterminated string`);
        break;
      }
      body += '\n';
    }
    col = c;
    out.push({ kw, text: body.trim(), line: lineNo });
  }
  return out;
}

/** The first characters of a line for a message (never the whole of a huge line). */
export function preview(s: string): string {
  const t = s.trim();
  return t.length > 60 ? `${t.slice(0, 60)}…` : t;
}
