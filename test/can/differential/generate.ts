import fc from 'fast-check';

/**
 * Random DBC databases and frames for the differential tests: signals of
 * 1..64 bits in both byte orders, signed and unsigned, IEEE float32/float64
 * (SIG_VALTYPE_), factor and offset, simple (M / mN) and extended
 * (SG_MUL_VAL_, one sub-multiplexer) multiplexing, standard and extended
 * ids, and CAN FD payload sizes up to 64 bytes.
 */

export type ValueType = 'integer' | 'float32' | 'float64';

export interface GenSignal {
  name: string;
  startBit: number;
  length: number;
  big: boolean;
  signed: boolean;
  valueType: ValueType;
  factor: number;
  offset: number;
  /** `M`, `mN`, `mNM` or ''. */
  marker: string;
  /** Extended multiplexing: the selector and its value ranges. */
  mulVal: { selector: string; ranges: Array<[number, number]> } | null;
}

export interface GenMessage {
  /** The id as written in the DBC (bit 31 = extended). */
  rawId: number;
  id: number;
  extended: boolean;
  name: string;
  length: number;
  signals: GenSignal[];
  frames: Uint8Array[];
}

/** Payload sizes a CAN or CAN FD frame can have (0 left out: a message without signals says nothing). */
export const FRAME_LENGTHS = [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64];

type Layout = Pick<GenSignal, 'startBit' | 'length' | 'big'>;
type Body = Omit<GenSignal, 'name' | 'marker' | 'mulVal'>;

/** A position for `length` bits inside `bytes` bytes, in either byte order. */
function layout(bytes: number, length: number): fc.Arbitrary<Layout> {
  return fc.record({ big: fc.boolean(), pos: fc.integer({ min: 0, max: bytes * 8 - length }) }).map(({ big, pos }) => ({
    big,
    length,
    // Little-endian: the LSB's bit number. Big-endian: the MSB, in DBC's sawtooth numbering.
    startBit: big ? (pos >> 3) * 8 + 7 - (pos & 7) : pos,
  }));
}

const factor = fc.oneof(
  fc.constantFrom(1, 0.1, 0.01, 0.001, 0.5, 2, 0.0625, 1e-5, -1, -0.25, 100, 3.7),
  fc.double({ min: -1e4, max: 1e4, noNaN: true }).filter((x) => Math.abs(x) > 1e-9),
);
const offset = fc.oneof(
  fc.constantFrom(0, 0, -40, 0.5, -273.15, 1000),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
);

/** A signal that is not a selector. */
function body(bytes: number): fc.Arbitrary<Body> {
  const bits = bytes * 8;
  const types: ValueType[] = ['integer', 'integer', 'integer'];
  if (bits >= 32) types.push('float32');
  if (bits >= 64) types.push('float64');
  return fc.constantFrom(...types).chain((valueType) => {
    const length =
      valueType === 'float32'
        ? fc.constant(32)
        : valueType === 'float64'
          ? fc.constant(64)
          : fc.integer({ min: 1, max: Math.min(64, bits) });
    return length.chain((len) =>
      fc
        .record({ at: layout(bytes, len), signed: fc.boolean(), factor, offset })
        .map(({ at, signed, factor: f, offset: o }) => ({ ...at, valueType, signed, factor: f, offset: o })),
    );
  });
}

/** An unsigned integer selector of 1..3 bits (so random frames hit every value often). */
function selector(bytes: number): fc.Arbitrary<Body> {
  return fc
    .integer({ min: 1, max: 3 })
    .chain((len) => layout(bytes, len))
    .map((at) => ({ ...at, valueType: 'integer' as const, signed: false, factor: 1, offset: 0 }));
}

function ranges(max: number): fc.Arbitrary<Array<[number, number]>> {
  return fc.array(
    fc
      .tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max }))
      .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as [number, number]),
    { minLength: 1, maxLength: 2 },
  );
}

const plain = (b: Body, name: string): GenSignal => ({ ...b, name, marker: '', mulVal: null });

function signalsOf(bytes: number): fc.Arbitrary<GenSignal[]> {
  const plains = fc.array(body(bytes), { minLength: 1, maxLength: 6 });
  const none = plains.map((ps) => ps.map((b, i) => plain(b, `P${i}`)));
  const simple = fc
    .record({
      ps: plains,
      sel: selector(bytes),
      leaves: fc.array(fc.tuple(body(bytes), fc.nat()), { minLength: 1, maxLength: 5 }),
    })
    .map(({ ps, sel, leaves }) => [
      ...ps.map((b, i) => plain(b, `P${i}`)),
      { ...sel, name: 'Sel', marker: 'M', mulVal: null },
      ...leaves.map(([b, v], i) => ({ ...b, name: `L${i}`, marker: `m${v % 2 ** sel.length}`, mulVal: null })),
    ]);
  const extended = fc
    .record({ ps: plains, sel: selector(bytes), sub: selector(bytes), subRanges: ranges(7) })
    .chain(({ ps, sel, sub, subRanges }) => {
      const selMax = 2 ** sel.length - 1;
      const subMax = 2 ** sub.length - 1;
      const leaf = fc
        .tuple(body(bytes), fc.boolean())
        .chain(([b, underSub]) =>
          ranges(underSub ? subMax : selMax).map((r) => ({ b, r, parent: underSub ? 'Sub' : 'Sel' })),
        );
      return fc.array(leaf, { minLength: 1, maxLength: 5 }).map((leaves) => [
        ...ps.map((b, i) => plain(b, `P${i}`)),
        { ...sel, name: 'Sel', marker: 'M', mulVal: null },
        {
          ...sub,
          name: 'Sub',
          marker: `m${(subRanges[0] as [number, number])[0]}M`,
          mulVal: {
            selector: 'Sel',
            ranges: subRanges.map(([a, b]) => [Math.min(a, selMax), Math.min(b, selMax)] as [number, number]),
          },
        },
        ...leaves.map(({ b, r, parent }, i) => ({
          ...b,
          name: `L${i}`,
          marker: `m${(r[0] as [number, number])[0]}`,
          mulVal: { selector: parent, ranges: r },
        })),
      ]);
    });
  return fc.oneof(none, simple, extended);
}

/** One message with `frames` random payloads of its length. */
export function message(frames: number): fc.Arbitrary<Omit<GenMessage, 'name'>> {
  return fc
    .record({
      extended: fc.boolean(),
      id11: fc.integer({ min: 0, max: 0x7ff }),
      id29: fc.integer({ min: 0, max: 0x1fffffff }),
      length: fc.constantFrom(...FRAME_LENGTHS),
    })
    .chain(({ extended, id11, id29, length }) =>
      fc
        .record({
          signals: signalsOf(length),
          frames: fc.array(fc.uint8Array({ minLength: length, maxLength: length }), {
            minLength: frames,
            maxLength: frames,
          }),
        })
        .map(({ signals, frames: data }) => ({
          rawId: extended ? (id29 | 0x80000000) >>> 0 : id11,
          id: extended ? id29 : id11,
          extended,
          length,
          signals,
          frames: data,
        })),
    );
}

/** A database of 1..4 messages with distinct ids. */
export function database(framesPerMessage: number): fc.Arbitrary<GenMessage[]> {
  return fc
    .uniqueArray(message(framesPerMessage), { minLength: 1, maxLength: 4, selector: (m) => m.rawId })
    .map((ms) => ms.map((m, i) => ({ ...m, name: `Msg${i}` })));
}

/** The DBC text, in the canonical layout cantools and CANdb++ write (canmatrix needs it). */
export function renderDbc(messages: GenMessage[]): string {
  const out = ['VERSION ""', '', 'NS_ :', '\tCM_', '\tSIG_VALTYPE_', '\tSG_MUL_VAL_', '', 'BS_:', '', 'BU_:', ''];
  const tail: string[] = [];
  for (const m of messages) {
    out.push(`BO_ ${m.rawId} ${m.name}: ${m.length} Vector__XXX`);
    for (const s of m.signals) {
      const marker = s.marker === '' ? '' : ` ${s.marker}`;
      out.push(
        ` SG_ ${s.name}${marker} : ${s.startBit}|${s.length}@${s.big ? 0 : 1}${s.signed ? '-' : '+'}` +
          ` (${s.factor},${s.offset}) [0|0] "" Vector__XXX`,
      );
      if (s.valueType !== 'integer')
        tail.push(`SIG_VALTYPE_ ${m.rawId} ${s.name} : ${s.valueType === 'float32' ? 1 : 2};`);
      if (s.mulVal) {
        const r = s.mulVal.ranges.map(([a, b]) => `${a}-${b}`).join(', ');
        tail.push(`SG_MUL_VAL_ ${m.rawId} ${s.name} ${s.mulVal.selector} ${r};`);
      }
    }
    out.push('');
  }
  return [...out, ...tail, ''].join('\n');
}
