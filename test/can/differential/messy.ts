import fc from 'fast-check';
import type { GenMessage } from './generate.js';

/**
 * The same database spelled the way real files spell it: CRLF or CR, tabs
 * and runs of spaces around tokens, `//` comments after statements,
 * multi-line CM_ texts with `;` and `//` inside, unknown and unused
 * statements, an unindented NS_ list, receivers lists with commas, several
 * statements on one line, attributes before or after the messages.
 */

export interface MessyStyle {
  eol: '\n' | '\r\n' | '\r';
  /** Whitespace put between tokens where the grammar allows it. */
  gap: string;
  indent: string;
  trailingComments: boolean;
  comments: boolean;
  unknownStatements: boolean;
  nsUnindented: boolean;
  /** SIG_VALTYPE_ / SG_MUL_VAL_ before the CM_ block, or interleaved on one line. */
  joinTail: boolean;
  receivers: string;
  bom: boolean;
}

export const messyStyle: fc.Arbitrary<MessyStyle> = fc.record({
  eol: fc.constantFrom('\n' as const, '\r\n' as const, '\r' as const),
  gap: fc.constantFrom('', ' ', '  ', '\t', ' \t '),
  indent: fc.constantFrom('', ' ', '\t', '    '),
  trailingComments: fc.boolean(),
  comments: fc.boolean(),
  unknownStatements: fc.boolean(),
  nsUnindented: fc.boolean(),
  joinTail: fc.boolean(),
  receivers: fc.constantFrom('Vector__XXX', 'A,B', 'A, B', 'A B', ''),
  bom: fc.boolean(),
});

export function renderMessy(messages: GenMessage[], st: MessyStyle): string {
  const g = st.gap;
  const c = (text: string) => (st.trailingComments ? `${text}${g} // ${text.length} chars; "quoted"` : text);
  const ns = ['NS_DESC_', 'CM_', 'BA_DEF_', 'BA_', 'VAL_', 'SIG_VALTYPE_', 'SG_MUL_VAL_'];
  const lines: string[] = [
    `${st.bom ? '\ufeff' : ''}VERSION${g} "messy"`,
    '',
    `NS_${g}:`,
    ...ns.map((k) => (st.nsUnindented ? k : `\t${k}`)),
    '',
    'BS_:',
    c(`BU_:${g} A${g},${g}B`),
  ];
  if (st.unknownStatements) lines.push('VAL_TABLE_ Onoff 1 "on" 0 "off" ;', 'XX_TOOL_SPECIFIC_ 1 2 "three";');
  const tail: string[] = [];
  for (const m of messages) {
    lines.push('', c(`BO_ ${m.rawId} ${m.name}${g}:${g}${m.length}${g}A`));
    for (const s of m.signals) {
      const marker = s.marker === '' ? '' : ` ${s.marker}`;
      lines.push(
        c(
          `${st.indent}SG_ ${s.name}${marker}${g}:${g}${s.startBit}${g}|${g}${s.length}${g}@${g}${s.big ? 0 : 1}` +
            `${s.signed ? '-' : '+'}${g}(${g}${s.factor}${g},${g}${s.offset}${g})${g}[${g}0${g}|${g}0${g}]${g}` +
            `"u"${g}${st.receivers}`,
        ),
      );
      if (s.valueType !== 'integer') {
        tail.push(`SIG_VALTYPE_ ${m.rawId} ${s.name}${g}:${g}${s.valueType === 'float32' ? 1 : 2};`);
      }
      if (s.mulVal) {
        const r = s.mulVal.ranges.map(([a, b]) => `${a}${g}-${g}${b}`).join(`${g},${g}`);
        tail.push(`SG_MUL_VAL_ ${m.rawId} ${s.name} ${s.mulVal.selector} ${r};`);
      }
    }
    if (st.comments) {
      tail.push(`CM_ BO_ ${m.rawId} "first line; with a // and a semicolon${st.eol}second line \\"quoted\\"";`);
    }
    if (st.unknownStatements) tail.push(`BA_ "GenMsgCycleTime" BO_ ${m.rawId} 100;`, `BO_TX_BU_ ${m.rawId} : A,B;`);
  }
  const body = st.joinTail ? [tail.join(g)] : tail;
  return [...lines, '', ...body, ''].join(st.eol);
}
