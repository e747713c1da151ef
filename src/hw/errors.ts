/**
 * Hardware errors. Every error the hardware layer raises is a {@link HwError}
 * with a stable `code`; callers check with `instanceof` or `code`.
 */
export type HwErrorCode =
  /** Bad options: address out of range, pin out of range, unknown bus spec. */
  | 'HW_CONFIG'
  /** The I2C transfer failed (EIO, ENXIO, NACK, …). */
  | 'HW_BUS'
  /** A register read back differently from what was written. */
  | 'HW_READBACK'
  /** The I2C device file or native addon is not available on this machine. */
  | 'HW_UNAVAILABLE'
  /** The object was closed. */
  | 'HW_CLOSED'
  /** An I2C transfer did not complete within its timeout (a hung bus or driver). */
  | 'HW_TIMEOUT';

export class HwError extends Error {
  readonly code: HwErrorCode;
  constructor(code: HwErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HwError';
    this.code = code;
  }
}

/** `0x20` for logs and messages. */
export function hex(n: number, width = 2): string {
  return '0x' + n.toString(16).toUpperCase().padStart(width, '0');
}
