/** Why a relay client stopped or could not connect. Check `code`, never the message. */
export type GatewayErrorCode = 'GATEWAY_AUTH' | 'GATEWAY_REFUSED' | 'GATEWAY_CLOSED' | 'GATEWAY_CONFIG';

export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  /** HTTP status of a refused upgrade, when there was one. */
  readonly status: number | undefined;
  constructor(code: GatewayErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.name = 'GatewayError';
    this.code = code;
    this.status = options?.status;
  }
}
