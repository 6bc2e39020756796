/** Messages between the Engine (main thread) and its inference worker. */
import type { Size } from '../../regions';
import type { EditSettings } from '../../server/protocol/settings';
import type { EditObject, EditStats, Progress } from '../pipeline/edit-pipeline';
import type { ProviderRequest } from '../sessions/ort';

export interface WorkerInit {
  modelDir: string;
  request: ProviderRequest;
}

export interface EditJob {
  frames: Uint8Array[];
  size: Size;
  prompt: string;
  objects: EditObject[];
  settings: EditSettings;
}

export type ToWorker = { type: 'edit'; id: number; job: EditJob; stop: SharedArrayBuffer } | { type: 'close' };

export interface SerializedError {
  kind: string;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export type FromWorker =
  | { type: 'ready'; provider: 'cuda' | 'cpu'; fallbackReason: string | null }
  | { type: 'log'; line: string }
  | { type: 'failed-to-start'; error: SerializedError }
  | { type: 'progress'; id: number; progress: Progress }
  | { type: 'done'; id: number; frames: Uint8Array[]; stats: EditStats }
  | { type: 'error'; id: number; error: SerializedError };
