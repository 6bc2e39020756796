/**
 * The inference thread: holds the model's sessions (created once) and runs one edit at a time, so
 * onnxruntime-node's blocking run() never stalls the helper's event loop. A shared stop flag is read
 * before every model call.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ReatcoError } from '../../errors';
import { loadModel, type LoadedModel } from '../models';
import type { FromWorker, SerializedError, ToWorker, WorkerInit } from './messages';

const port = parentPort;
if (!port) throw new Error('worker.ts runs as a worker thread');
const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

function serialize(error: unknown): SerializedError {
  if (error instanceof ReatcoError) return { kind: error.name, code: error.code, message: error.message, details: error.details };
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'Error', code: 'INTERNAL', message };
}

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  let model: LoadedModel;
  try {
    model = await loadModel(init.modelDir, init.request, (line) => post({ type: 'log', line }));
  } catch (error) {
    post({ type: 'failed-to-start', error: serialize(error) });
    return;
  }
  post({ type: 'ready', provider: model.provider, fallbackReason: model.fallbackReason });
  port!.on('message', async (message: ToWorker) => {
    if (message.type === 'close') {
      await model.release();
      port!.close();
      return;
    }
    const stop = new Int32Array(message.stop);
    try {
      const result = await model.pipeline.edit(message.job, {
        shouldStop: () => Atomics.load(stop, 0) !== 0,
        onProgress: (progress) => post({ type: 'progress', id: message.id, progress }),
        onNotice: (line) => post({ type: 'log', line: `reatco: ${line}` }),
      });
      post({ type: 'done', id: message.id, frames: result.frames, stats: result.stats }, result.frames.map((f) => f.buffer as ArrayBuffer));
    } catch (error) {
      post({ type: 'error', id: message.id, error: serialize(error) });
    }
  });
}

void main();
