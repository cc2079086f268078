/**
 * Every error code Duet puts on the wire, with the HTTP status it maps to.
 * Codes are a public contract (docs/protocol.md): add, never rename.
 */
export const ERROR_STATUS = {
  invalid_payload: 400,
  unknown_event: 400,
  unauthorized: 401,
  invalid_token: 401,
  token_expired: 401,
  invite_revoked: 401,
  forbidden: 403,
  not_found: 404,
  interview_ended: 409,
  too_large: 413,
  rate_limited: 429,
  /** The interview has as many live sockets on this node as it may (MAX_SOCKETS_PER_INTERVIEW). */
  too_many_connections: 429,
  internal: 500,
  unavailable: 503,
  // Code runs (docs/runner.md).
  unsupported_language: 400,
  run_timeout: 408,
  runner_busy: 409,
  output_truncated: 413,
  queue_full: 503,
  runner_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export interface WireError {
  code: ErrorCode;
  message: string;
}

/** The one shape of a failure, in REST bodies and in Socket.IO acks alike. */
export interface ErrorBody {
  error: WireError;
}

/** Thrown anywhere on the server; the boundary turns it into an ErrorBody. */
export class DuetError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'DuetError';
    this.code = code;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

export function isErrorBody(value: unknown): value is ErrorBody {
  return typeof value === 'object' && value !== null && 'error' in value;
}
