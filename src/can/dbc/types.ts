/** The parsed content of a DBC file (the parts Canopy uses). */

export type ByteOrder = 'little' | 'big';
/** `integer` unless SIG_VALTYPE_ says IEEE float (1) or double (2). */
export type SignalValueType = 'integer' | 'float32' | 'float64';

export interface DbcSignal {
  name: string;
  /** DBC start bit: the LSB for little-endian, the MSB (sawtooth numbering) for big-endian. */
  startBit: number;
  length: number;
  byteOrder: ByteOrder;
  signed: boolean;
  valueType: SignalValueType;
  factor: number;
  offset: number;
  /** Physical range; `min === max === 0` means "not specified". */
  min: number;
  max: number;
  unit: string;
  receivers: string[];
  /** This signal selects which multiplexed signals are present (`M`, or `mNM`). */
  isMultiplexer: boolean;
  /** Name of the selector this signal depends on, or null when always present. */
  multiplexerSignal: string | null;
  /** Selector values (inclusive ranges) for which this signal is present. */
  multiplexerRanges: Array<[number, number]> | null;
  /** VAL_ table: raw value → label. */
  valueTable: Map<number, string> | null;
}

export interface DbcMessage {
  /** CAN id without the DBC extended flag (bit 31). */
  id: number;
  extended: boolean;
  /** Declared CAN FD by the VFrameFormat attribute. */
  fd: boolean;
  name: string;
  /** Declared payload length in bytes. */
  length: number;
  sender: string;
  signals: DbcSignal[];
}

/** Something the parser accepted but a user may want to know about (skipped text, a missing `;`, …). */
export interface DbcWarning {
  /** 1-based line, 0 when it concerns the whole file. */
  line: number;
  message: string;
}

export interface DbcDatabase {
  version: string;
  nodes: string[];
  messages: DbcMessage[];
  /** What was accepted with a doubt, at most a few hundred entries. */
  warnings: DbcWarning[];
}
