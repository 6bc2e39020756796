/**
 * The engine's public face: a model package loaded into an inference worker, edits run one at a time
 * with progress callbacks and cancellation through an AbortSignal.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CancelledError, MediaError, ModelError, ReatcoError, ValidationError } from '../errors';
import { isErrorCode } from '../server/protocol/errors';
import type { EditSettingsInput } from '../server/protocol/settings';
import type { Size } from '../regions';
import { readModelPackage, type ModelManifest } from './model-package';
import type { EditObject, EditStats, Progress } from './pipeline/edit-pipeline';
import { resolveSettings } from './pipeline/validate';
import type { ProviderName, ProviderRequest } from './sessions/ort';
import { ClipTokenizer } from './tokenizer';
import type { FromWorker, SerializedError, ToWorker, WorkerInit } from './worker/messages';

export interface EngineOptions extends ProviderRequest {
  modelDir: string;
  log?: (line: string) => void;
}

export interface EditRequest {
  /** RGB24 frames at the working size (a multiple of the model's frame multiple). */
  frames: readonly Uint8Array[];
  size: Size;
  prompt: string;
  objects: readonly EditObject[];
  settings?: EditSettingsInput;
}

export interface EditResult {
  frames: Uint8Array[];
  stats: EditStats;
}

export interface EditCallbacks {
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

const ERROR_CLASSES: Record<string, new (code: never, message: string, details?: Record<string, unknown>) => ReatcoError> = {
  ValidationError,
  ModelError,
  MediaError,
};

function revive(error: SerializedError): Error {
  if (error.kind === 'CancelledError') return new CancelledError(error.message);
  const Class = ERROR_CLASSES[error.kind] ?? ReatcoError;
  return isErrorCode(error.code) ? new Class(error.code as never, error.message, error.details) : new Error(error.message);
}

export class Engine {
  readonly manifest: ModelManifest;
  readonly tokenizer: ClipTokenizer;
  private nextId = 1;
  private busy = false;

  private constructor(
    private readonly worker: Worker,
    readonly modelDir: string,
    readonly provider: ProviderName,
    readonly fallbackReason: string | null,
  ) {
    const pkg = readModelPackage(modelDir);
    this.manifest = pkg.manifest;
    this.tokenizer = ClipTokenizer.fromFiles(pkg.tokenizerDir);
  }

  /** Loads the package in a new inference worker; resolves once its sessions are ready. */
  static async start(options: EngineOptions): Promise<Engine> {
    readModelPackage(options.modelDir); // fail fast, with a coded error, on a bad package
    const { modelDir, log = console.warn, ...request } = options;
    const init: WorkerInit = { modelDir, request };
    const worker = new Worker(path.join(__dirname, 'worker', 'worker.js'), { workerData: init });
    return new Promise<Engine>((resolve, reject) => {
      const onMessage = (message: FromWorker) => {
        if (message.type === 'log') log(message.line);
        else if (message.type === 'ready') {
          worker.off('message', onMessage);
          worker.on('message', (m: FromWorker) => m.type === 'log' && log(m.line));
          resolve(new Engine(worker, modelDir, message.provider, message.fallbackReason));
        } else if (message.type === 'failed-to-start') {
          void worker.terminate();
          reject(revive(message.error));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  }

  /** Runs one edit. Settings are checked here, everything else in the worker before any model runs. */
  async edit(request: EditRequest, callbacks: EditCallbacks = {}): Promise<EditResult> {
    if (this.busy) throw new ReatcoError('INTERNAL', 'The engine runs one edit at a time.');
    const settings = resolveSettings(request.settings);
    if (callbacks.signal?.aborted) throw new CancelledError();
    const id = this.nextId++;
    const stop = new SharedArrayBuffer(4);
    const stopFlag = new Int32Array(stop);
    const onAbort = () => Atomics.store(stopFlag, 0, 1);
    callbacks.signal?.addEventListener('abort', onAbort, { once: true });
    this.busy = true;
    try {
      return await new Promise<EditResult>((resolve, reject) => {
        const onMessage = (message: FromWorker) => {
          if (!('id' in message) || message.id !== id) return;
          if (message.type === 'progress') callbacks.onProgress?.(message.progress);
          else {
            this.worker.off('message', onMessage);
            this.worker.off('error', onError);
            if (message.type === 'done') resolve({ frames: message.frames, stats: message.stats });
            else reject(revive(message.error));
          }
        };
        const onError = (error: Error) => reject(new ModelError('INFERENCE_FAILED', `The inference worker stopped: ${error.message}`));
        this.worker.on('message', onMessage);
        this.worker.once('error', onError);
        const job = { frames: [...request.frames], size: request.size, prompt: request.prompt, objects: [...request.objects], settings };
        this.worker.postMessage({ type: 'edit', id, job, stop } satisfies ToWorker);
      });
    } finally {
      this.busy = false;
      callbacks.signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    await exited;
  }
}
