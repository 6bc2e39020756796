/**
 * Error codes (the helper's and the client's) in words for an editor: a short title and what to do.
 * The helper's own message goes underneath as the detail.
 */
import type { ErrorCode } from '@reatco/helper-service/protocol';
import { HelperError, type ClientErrorCode } from '../client/helper-client';
import { HostError } from '../host/adapter';
import type { PanelError } from './panel-state';

export const START_HELPER_HINT =
  'Start the helper: `npx reatco serve`, then paste the pairing token it prints. ' +
  'If it is running and the panel still cannot connect, this host may send a "null" origin: start it with `npx reatco serve --allow-null-origin`.';

const ADVICE: Record<ErrorCode | ClientErrorCode, { title: string; advice: string }> = {
  AUTH_REQUIRED: { title: 'Not paired', advice: 'Paste the pairing token that `npx reatco serve` printed.' },
  AUTH_FAILED: { title: 'Pairing failed', advice: 'The helper did not accept the token. Copy it again from the helper (`npx reatco pair`) and paste it.' },
  ORIGIN_REFUSED: { title: 'Connection refused', advice: 'The helper refuses connections from web pages.' },
  UNSUPPORTED_VERSION: { title: 'Version mismatch', advice: 'The panel and the helper are different versions: update the older one.' },
  BAD_MESSAGE: { title: 'Panel and helper disagree', advice: 'Update the panel and the helper to the same version.' },
  MESSAGE_TOO_LARGE: { title: 'Request too large', advice: 'Use fewer keyframes, or import the regions as a mask folder.' },
  PATH_NOT_ALLOWED: { title: 'File not allowed', advice: 'The helper may not read or write there. Choose another location.' },
  FILE_NOT_FOUND: { title: 'File not found', advice: 'The clip’s media or a mask folder is missing. Relink it and try again.' },
  MEDIA_UNREADABLE: { title: 'Unreadable media', advice: 'The file is not a readable video or is damaged. Try a transcoded copy.' },
  CLIP_TOO_LONG: { title: 'Clip too long', advice: 'Trim the clip on the timeline (or cut it in parts) and run again.' },
  OUTPUT_WRITE_FAILED: { title: 'Could not write the result', advice: 'Check the helper’s output folder and try again.' },
  DISK_FULL: { title: 'Disk full', advice: 'Free space on the helper’s output drive and try again.' },
  INVALID_SETTINGS: { title: 'Setting out of range', advice: 'Check the options and try again.' },
  FRAME_SIZE_INVALID: { title: 'Unsupported frame size', advice: 'The clip’s frame size does not fit the model. Try another quality.' },
  REGION_OUT_OF_FRAME: { title: 'Region outside the frame', advice: 'Move the box so it lies inside the picture.' },
  REGION_TOO_SMALL: { title: 'Region too small', advice: 'Draw a larger box: the model cannot place an object in so few pixels.' },
  WORD_NOT_IN_PROMPT: { title: 'Object word missing', advice: 'Pick the region’s word again from the edited prompt.' },
  TOKEN_INDEX_INVALID: { title: 'Object word missing', advice: 'Pick the region’s word again from the edited prompt.' },
  MODEL_NOT_FOUND: { title: 'Model missing', advice: 'The helper has no model installed. See `npx reatco doctor`.' },
  MODEL_INVALID: { title: 'Model damaged', advice: 'Reinstall the model package (`npx reatco doctor` tells which).' },
  PROVIDER_UNAVAILABLE: { title: 'GPU not available', advice: 'The helper cannot use the requested device. It can run on the CPU, slowly.' },
  OUT_OF_MEMORY: { title: 'Out of GPU memory', advice: 'Try Draft quality or a shorter clip.' },
  INFERENCE_FAILED: { title: 'The model failed', advice: 'Try again; if it persists, send the helper’s log to support.' },
  JOB_NOT_FOUND: { title: 'Edit not found', advice: 'The helper no longer knows this edit (was it restarted?). Run it again.' },
  JOB_CANCELLED: { title: 'Cancelled', advice: 'Run again when ready.' },
  JOB_INTERRUPTED: { title: 'Edit interrupted', advice: 'The helper stopped while editing. Run the edit again.' },
  QUEUE_FULL: { title: 'Helper busy', advice: 'Too many edits are waiting. Try again when one finishes.' },
  INTERNAL: { title: 'Helper error', advice: 'Something unexpected went wrong in the helper. Try again.' },
  NOT_CONNECTED: { title: 'Helper not connected', advice: START_HELPER_HINT },
  TIMEOUT: { title: 'The helper is not answering', advice: 'It may be busy; try again in a moment.' },
  CONNECTION_LOST: { title: 'Connection lost', advice: 'The panel reconnects by itself; try again once it shows Connected.' },
  BAD_RESPONSE: { title: 'Panel and helper disagree', advice: 'Update the panel and the helper to the same version.' },
};

export function describeError(code: ErrorCode | ClientErrorCode, message: string): PanelError {
  const entry = ADVICE[code];
  return { code, title: entry.title, detail: message && message !== entry.advice ? `${message} ${entry.advice}` : entry.advice };
}

/** Any thrown value as something the panel can show. */
export function toPanelError(error: unknown): PanelError {
  if (error instanceof HelperError) return describeError(error.code, error.message);
  if (error instanceof HostError) return { code: 'HOST', title: 'Premiere could not do that', detail: error.message };
  return { code: 'HOST', title: 'Something went wrong', detail: error instanceof Error ? error.message : String(error) };
}
