/**
 * Typed errors of the CAN layer. Every error has a stable `code`; callers
 * check with `instanceof` or `code`, never by message text.
 */

/** Why a frame (a `can:raw` entry or a candump line) could not be parsed. */
export type FrameErrorCode =
  | 'MISSING_FIELD'
  | 'BAD_ID'
  | 'BAD_HEX'
  | 'BAD_DLC'
  | 'DLC_MISMATCH'
  | 'BAD_LENGTH'
  | 'OVERSIZED'
  | 'BAD_TS'
  | 'BAD_LINE'
  | 'UNSUPPORTED';

export class FrameError extends Error {
  readonly code: FrameErrorCode;
  constructor(code: FrameErrorCode, message: string) {
    super(message);
    this.name = 'FrameError';
    this.code = code;
  }
}

/**
 * Why a DBC file was refused: `DBC_SYNTAX` a statement that cannot be read,
 * `DBC_INVALID` one that reads but cannot be decoded (a 12-bit float, a
 * multiplexer cycle), `DBC_EMPTY` no DBC statement at all.
 */
export type DbcErrorCode = 'DBC_SYNTAX' | 'DBC_INVALID' | 'DBC_EMPTY';

/** A DBC file that cannot be used; `line` is 1-based. */
export class DbcError extends Error {
  readonly code: DbcErrorCode;
  readonly line: number;
  constructor(message: string, line: number, code: DbcErrorCode = 'DBC_SYNTAX') {
    super(`DBC line ${line}: ${message}`);
    this.name = 'DbcError';
    this.line = line;
    this.code = code;
  }
}

export type SourceErrorCode =
  | 'SOURCE_CONFIG'
  | 'SOURCE_NO_INTERFACE'
  | 'SOURCE_NO_SOCKETCAN'
  | 'SOURCE_SPAWN'
  | 'SOURCE_EXITED'
  | 'SOURCE_IO'
  | 'SOURCE_CLOSED';

/** A frame source that cannot start or stopped on its own. */
export class SourceError extends Error {
  readonly code: SourceErrorCode;
  constructor(code: SourceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SourceError';
    this.code = code;
  }
}
