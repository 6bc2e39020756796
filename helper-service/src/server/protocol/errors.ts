/**
 * Every error that crosses the wire carries one of these codes; the panel maps the code to its own
 * text and decides whether to offer a retry. Host-free: the plugin bundles this file.
 *
 * | code | meaning | retryable |
 * |---|---|---|
 */
export const ERROR_CODES = {
  // connection and messages
  AUTH_REQUIRED: { retryable: false, summary: 'The first message must authenticate with the pairing token.' },
  AUTH_FAILED: { retryable: false, summary: 'The pairing token is wrong.' },
  ORIGIN_REFUSED: { retryable: false, summary: 'Connections from web pages are refused.' },
  UNSUPPORTED_VERSION: { retryable: false, summary: 'Panel and helper speak different protocol versions.' },
  BAD_MESSAGE: { retryable: false, summary: 'The message is not valid JSON or does not match the protocol.' },
  MESSAGE_TOO_LARGE: { retryable: false, summary: 'The message exceeds the size limit.' },
  // files and media
  PATH_NOT_ALLOWED: { retryable: false, summary: 'The path is outside what the helper may read or write.' },
  FILE_NOT_FOUND: { retryable: false, summary: 'The file does not exist.' },
  MEDIA_UNREADABLE: { retryable: false, summary: 'The file is not a readable video, or it is truncated.' },
  CLIP_TOO_LONG: { retryable: false, summary: 'The clip segment has more frames than the configured limit.' },
  OUTPUT_WRITE_FAILED: { retryable: true, summary: 'The result could not be written.' },
  DISK_FULL: { retryable: true, summary: 'The output folder has no space left.' },
  // edit settings
  INVALID_SETTINGS: { retryable: false, summary: 'A setting is out of range.' },
  FRAME_SIZE_INVALID: { retryable: false, summary: 'The frame size does not fit the model.' },
  REGION_OUT_OF_FRAME: { retryable: false, summary: 'A region lies outside the frame.' },
  REGION_TOO_SMALL: { retryable: false, summary: 'A region is smaller than one attention cell.' },
  WORD_NOT_IN_PROMPT: { retryable: false, summary: 'The object word is not in the edited prompt.' },
  TOKEN_INDEX_INVALID: { retryable: false, summary: 'The token index does not point at a word of the prompt.' },
  // models and inference
  MODEL_NOT_FOUND: { retryable: false, summary: 'The model package does not exist.' },
  MODEL_INVALID: { retryable: false, summary: 'The model package is incomplete or inconsistent.' },
  PROVIDER_UNAVAILABLE: { retryable: false, summary: 'The requested execution provider cannot run here.' },
  OUT_OF_MEMORY: { retryable: true, summary: 'The GPU ran out of memory; a smaller window may fit.' },
  INFERENCE_FAILED: { retryable: false, summary: 'A model run failed.' },
  // jobs
  JOB_NOT_FOUND: { retryable: false, summary: 'No job has that id.' },
  JOB_CANCELLED: { retryable: false, summary: 'The job was cancelled.' },
  JOB_INTERRUPTED: { retryable: true, summary: 'The helper stopped while the job was running.' },
  QUEUE_FULL: { retryable: true, summary: 'Too many jobs are waiting.' },
  INTERNAL: { retryable: false, summary: 'An unexpected error in the helper.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: string): value is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}
