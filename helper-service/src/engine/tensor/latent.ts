/**
 * Latents of one clip, laid out like the graphs' (1, channels, frames, height, width) tensors.
 * Pure helpers; `_`-suffixed functions work in place (PyTorch's naming).
 */

export interface LatentShape {
  readonly channels: number;
  readonly frames: number;
  readonly height: number;
  readonly width: number;
}

export interface Latent extends LatentShape {
  readonly data: Float32Array;
}

export function latentSize(shape: LatentShape): number {
  return shape.channels * shape.frames * shape.height * shape.width;
}

export function dims(shape: LatentShape, batch = 1): number[] {
  return [batch, shape.channels, shape.frames, shape.height, shape.width];
}

export function zerosLike(shape: LatentShape): Latent {
  return { ...pickShape(shape), data: new Float32Array(latentSize(shape)) };
}

function pickShape(s: LatentShape): LatentShape {
  return { channels: s.channels, frames: s.frames, height: s.height, width: s.width };
}

/** Frames [start, end) of a latent: copied, or the latent itself when that is all of it (latents are
 *  never changed in place outside the `_` helpers, which only write to their own accumulators). */
export function sliceFrames(latent: Latent, start: number, end: number): Latent {
  if (start === 0 && end === latent.frames) return latent;
  const plane = latent.height * latent.width;
  const frames = end - start;
  const out = new Float32Array(latent.channels * frames * plane);
  for (let c = 0; c < latent.channels; c++) {
    const from = (c * latent.frames + start) * plane;
    out.set(latent.data.subarray(from, from + frames * plane), c * frames * plane);
  }
  return { ...pickShape(latent), frames, data: out };
}

/** Adds a window (frames starting at `start`) into `target`, in place. */
export function addFrames_(target: Latent, window: Latent, start: number): void {
  const plane = target.height * target.width;
  const span = window.frames * plane;
  for (let c = 0; c < target.channels; c++) {
    const to = (c * target.frames + start) * plane;
    const from = c * span;
    for (let i = 0; i < span; i++) target.data[to + i]! += window.data[from + i]!;
  }
}

/** Divides every frame by how many windows covered it, in place. */
export function divideFrames_(target: Latent, counts: ArrayLike<number>): void {
  const plane = target.height * target.width;
  for (let c = 0; c < target.channels; c++) {
    for (let f = 0; f < target.frames; f++) {
      const n = counts[f]!;
      const base = (c * target.frames + f) * plane;
      for (let i = 0; i < plane; i++) target.data[base + i]! /= n;
    }
  }
}

/** x − α·g, as a new array (the RAD update). */
export function subtractScaled(x: Float32Array, alpha: number, g: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! - alpha * g[i]!;
  return out;
}

/** The RAD update, or null when the gradient is not finite (an fp16 overflow in the gradient graph):
 *  one skipped update costs a little guidance, a NaN would spread through the whole clip. */
export function descend(x: Float32Array, alpha: number, g: Float32Array): Float32Array | null {
  for (let i = 0; i < g.length; i++) if (!Number.isFinite(g[i]!)) return null;
  return subtractScaled(x, alpha, g);
}

/** The same tensor twice along the batch axis: both halves of classifier-free guidance. */
export function twice(x: Float32Array): Float32Array {
  const out = new Float32Array(2 * x.length);
  out.set(x, 0);
  out.set(x, x.length);
  return out;
}

/** ε̂ = ε_u + w (ε_c − ε_u) from a batch-2 prediction [ε_u, ε_c]. */
export function guide(prediction: Float32Array, scale: number): Float32Array {
  const n = prediction.length / 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = prediction[i]!;
    out[i] = u + scale * (prediction[n + i]! - u);
  }
  return out;
}
