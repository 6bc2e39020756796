/**
 * Blend weights for the composite (pure). The region mask is dilated by ceil(F/2) pixels, then
 * blurred by two box passes whose radii add up to floor(F/2) (a tent: a smooth, piecewise-quadratic
 * ramp). Sums stay whole numbers until one final division, so the weight is exactly 1 on the region
 * and exactly 0 more than F pixels (Chebyshev distance) outside it. Edges of the frame are
 * replicated, so a region touching the border stays fully opaque there.
 */
import type { BoxPx, Size } from '../regions';

export interface FeatherAlpha {
  /** The part of the frame where the weight can be nonzero; 0 everywhere else. */
  readonly window: BoxPx;
  /** Row-major weights in [0, 1] for the window. */
  readonly alpha: Float32Array;
}

/** Smallest box holding every nonzero pixel ([x1, y1, x2, y2], x2 and y2 exclusive), or undefined when empty. */
export function maskBoundingBox(mask: Uint8Array, size: Size): BoxPx | undefined {
  let x1 = size.width;
  let y1 = size.height;
  let x2 = 0;
  let y2 = 0;
  for (let y = 0; y < size.height; y++) {
    const row = y * size.width;
    for (let x = 0; x < size.width; x++) {
      if (!mask[row + x]) continue;
      if (x < x1) x1 = x;
      if (x >= x2) x2 = x + 1;
      if (y < y1) y1 = y;
      y2 = y + 1;
    }
  }
  return x2 > x1 ? [x1, y1, x2, y2] : undefined;
}

/**
 * Index clamped to [0, length - 1], so values beyond the ends repeat the end values. Ternaries rather
 * than Math.*: global lookups in hot loops are slow inside vm contexts such as jest's.
 */
const clampIndex = (i: number, length: number) => (i < 0 ? 0 : i >= length ? length - 1 : i);

/** dst[x] = sum of src over [x - radius, x + radius] along each row, by a running sum. */
function rowSums(src: Float64Array, dst: Float64Array, size: Size, radius: number): void {
  const { width, height } = size;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let sum = 0;
    for (let k = -radius; k <= radius; k++) sum += src[row + clampIndex(k, width)]!;
    for (let x = 0; x < width; x++) {
      dst[row + x] = sum;
      sum += src[row + clampIndex(x + radius + 1, width)]! - src[row + clampIndex(x - radius, width)]!;
    }
  }
}

/** dst = sum of src over [y - radius, y + radius] down each column; whole rows at a time, so memory is read in order. */
function columnSums(src: Float64Array, dst: Float64Array, size: Size, radius: number): void {
  const { width, height } = size;
  const sums = new Float64Array(width);
  for (let k = -radius; k <= radius; k++) {
    const row = clampIndex(k, height) * width;
    for (let x = 0; x < width; x++) sums[x] = sums[x]! + src[row + x]!;
  }
  for (let y = 0; y < height; y++) {
    dst.set(sums, y * width);
    const entering = clampIndex(y + radius + 1, height) * width;
    const leaving = clampIndex(y - radius, height) * width;
    for (let x = 0; x < width; x++) sums[x] = sums[x]! + src[entering + x]! - src[leaving + x]!;
  }
}

/** Square box sums of the given radius, in place (scratch is a buffer of the same size). */
function boxSums(data: Float64Array, scratch: Float64Array, size: Size, radius: number): void {
  rowSums(data, scratch, size, radius);
  columnSums(scratch, data, size, radius);
}

/** Feathered weights of a 0/1 mask, or undefined when the mask is empty. */
export function featherAlpha(mask: Uint8Array, size: Size, featherPx: number): FeatherAlpha | undefined {
  const bounds = maskBoundingBox(mask, size);
  if (!bounds) return undefined;
  const feather = Math.max(0, Math.round(featherPx));
  const window: BoxPx = [
    Math.max(0, bounds[0] - feather),
    Math.max(0, bounds[1] - feather),
    Math.min(size.width, bounds[2] + feather),
    Math.min(size.height, bounds[3] + feather),
  ];
  const local: Size = { width: window[2] - window[0], height: window[3] - window[1] };
  const data = new Float64Array(local.width * local.height);
  for (let y = 0; y < local.height; y++) {
    const row = (y + window[1]) * size.width + window[0];
    for (let x = 0; x < local.width; x++) data[y * local.width + x] = mask[row + x] ? 1 : 0;
  }

  const scratch = new Float64Array(data.length);
  const dilation = Math.ceil(feather / 2);
  const blur = feather - dilation;
  const passes = [Math.ceil(blur / 2), Math.floor(blur / 2)].filter((r) => r > 0);
  if (dilation > 0) {
    boxSums(data, scratch, local, dilation);
    for (let i = 0; i < data.length; i++) data[i] = data[i]! > 0 ? 1 : 0;
  }
  let total = 1;
  for (const radius of passes) {
    boxSums(data, scratch, local, radius);
    total *= (2 * radius + 1) ** 2;
  }
  const alpha = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) alpha[i] = data[i]! / total;
  return { window, alpha };
}
