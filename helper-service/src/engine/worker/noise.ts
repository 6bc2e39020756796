/** The noise thread of NoiseAhead: draws one stream per request and hands its buffer back. */
import { parentPort } from 'node:worker_threads';
import { normal } from '../random';
import type { NoiseDrawn, NoiseRequest } from '../noise-ahead';

const port = parentPort;
if (!port) throw new Error('noise.ts runs as a worker thread');
port.on('message', ({ seed, stream, count }: NoiseRequest) => {
  const values = normal(seed, stream, count);
  port.postMessage({ stream, values } satisfies NoiseDrawn, [values.buffer as ArrayBuffer]);
});
