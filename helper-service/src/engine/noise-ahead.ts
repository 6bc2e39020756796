/**
 * The IRJS noise of the coming denoising steps, drawn on another thread while the models run:
 * onnxruntime-node's run() blocks the thread that calls it, and one draw for a 16-frame 448x768 clip
 * takes about 14 ms of JavaScript. At most `depth` draws are ahead, so memory stays bounded on long
 * clips. The values are those of `normal(seed, stream, count)`.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';

export interface NoiseRequest {
  seed: number;
  stream: number;
  count: number;
}

export interface NoiseDrawn {
  stream: number;
  values: Float32Array;
}

interface Pending {
  promise: Promise<Float32Array>;
  resolve(values: Float32Array): void;
  reject(error: Error): void;
}

export class NoiseAhead {
  private readonly worker = new Worker(path.join(__dirname, 'worker', 'noise.js'));
  private readonly pending = new Map<number, Pending>();
  private asked = 0;
  private failed: Error | null = null;

  /** `streams` in the order they will be taken. */
  constructor(
    private readonly seed: number,
    private readonly count: number,
    private readonly streams: readonly number[],
    private readonly depth = 2,
  ) {
    this.worker.on('message', ({ stream, values }: NoiseDrawn) => this.pending.get(stream)?.resolve(values));
    this.worker.on('error', (error) => {
      this.failed = error;
      this.pending.forEach((p) => p.reject(error));
    });
    while (this.asked < Math.min(depth, streams.length)) this.ask();
  }

  private ask(): void {
    const stream = this.streams[this.asked++]!;
    let resolve!: (values: Float32Array) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<Float32Array>((res, rej) => ([resolve, reject] = [res, rej]));
    promise.catch(() => {}); // rejections reach whoever takes the stream
    this.pending.set(stream, { promise, resolve, reject });
    if (this.failed) reject(this.failed);
    else this.worker.postMessage({ seed: this.seed, stream, count: this.count } satisfies NoiseRequest);
  }

  /** The next stream's noise (streams are taken in the constructor's order). */
  async take(stream: number): Promise<Float32Array> {
    const pending = this.pending.get(stream);
    if (!pending) throw new RangeError(`noise stream ${stream} was not asked for, or was taken already`);
    if (this.asked < this.streams.length) this.ask();
    const values = await pending.promise;
    this.pending.delete(stream);
    return values;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
