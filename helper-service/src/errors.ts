import { ERROR_CODES, type ErrorCode } from './server/protocol/errors';

/** Base of every error the helper raises on purpose: a stable code, a message an editor understands, details for logs. */
export class ReatcoError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }

  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }
}

/** Bad input, found before any model runs. */
export class ValidationError extends ReatcoError {}
/** A model package that cannot be loaded, or a failed model run. */
export class ModelError extends ReatcoError {}
/** Unreadable or unwritable media. */
export class MediaError extends ReatcoError {}
/** The caller cancelled; not a failure. */
export class CancelledError extends ReatcoError {
  constructor(message = 'The edit was cancelled.') {
    super('JOB_CANCELLED', message);
  }
}

/** Wire form of any thrown value: coded errors keep their code, anything else becomes INTERNAL. */
export function toErrorPayload(error: unknown): { code: ErrorCode; message: string; retryable: boolean } {
  if (error instanceof ReatcoError) return { code: error.code, message: error.message, retryable: error.retryable };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'INTERNAL', message, retryable: false };
}
