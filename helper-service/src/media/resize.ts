/** Resampling maths on typed arrays (pure). Pixel centres are aligned, as in ffmpeg's scale and OpenCV. */
import type { Size } from '../regions';

/** For each destination index: the two source neighbours and the weight of the second. */
export interface BilinearTaps {
  readonly lower: Int32Array;
  readonly upper: Int32Array;
  readonly weight: Float32Array;
}

export function bilinearTaps(destLength: number, sourceLength: number): BilinearTaps {
  const lower = new Int32Array(destLength);
  const upper = new Int32Array(destLength);
  const weight = new Float32Array(destLength);
  const ratio = sourceLength / destLength;
  for (let i = 0; i < destLength; i++) {
    const s = Math.min(Math.max((i + 0.5) * ratio - 0.5, 0), sourceLength - 1);
    lower[i] = Math.floor(s);
    upper[i] = Math.min(lower[i]! + 1, sourceLength - 1);
    weight[i] = s - lower[i]!;
  }
  return { lower, upper, weight };
}

/** Source ranges and their overlap with each destination cell along one axis (area averaging). */
function areaTaps(destLength: number, sourceLength: number): { first: Int32Array; weights: Float32Array[] } {
  const first = new Int32Array(destLength);
  const weights: Float32Array[] = [];
  const ratio = sourceLength / destLength;
  for (let i = 0; i < destLength; i++) {
    const start = i * ratio;
    const end = (i + 1) * ratio;
    const lo = Math.floor(start);
    const hi = Math.min(Math.ceil(end), sourceLength);
    const w = new Float32Array(hi - lo);
    for (let s = lo; s < hi; s++) w[s - lo] = (Math.min(end, s + 1) - Math.max(start, s)) / ratio;
    first[i] = lo;
    weights.push(w);
  }
  return { first, weights };
}

/** One-channel image resampled by area averaging: each result is the mean of the source area it covers. */
export function areaResample(source: Uint8Array, from: Size, to: Size): Float32Array {
  const xs = areaTaps(to.width, from.width);
  const ys = areaTaps(to.height, from.height);
  const rows = new Float32Array(to.width * from.height);
  for (let y = 0; y < from.height; y++) {
    const row = y * from.width;
    for (let x = 0; x < to.width; x++) {
      const w = xs.weights[x]!;
      const lo = row + xs.first[x]!;
      let sum = 0;
      for (let k = 0; k < w.length; k++) sum += source[lo + k]! * w[k]!;
      rows[y * to.width + x] = sum;
    }
  }
  const out = new Float32Array(to.width * to.height);
  for (let y = 0; y < to.height; y++) {
    const w = ys.weights[y]!;
    const lo = ys.first[y]!;
    for (let x = 0; x < to.width; x++) {
      let sum = 0;
      for (let k = 0; k < w.length; k++) sum += rows[(lo + k) * to.width + x]! * w[k]!;
      out[y * to.width + x] = sum;
    }
  }
  return out;
}
