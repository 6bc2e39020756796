/**
 * Puts the edit back into the full-resolution source (pure). The edited working-size frames are
 * resampled to the source size by bilinear interpolation (pixel centres aligned, like ffmpeg's scale);
 * it is cheap, and the feathered blend hides its softness at region edges. Pixels whose weight is 0
 * are copied from the source untouched, so everything outside the feathered regions is byte-identical.
 */
import { featherAlpha } from './feather';
import { bilinearTaps, type BilinearTaps } from './resize';
import type { VideoFrames } from './types';

export interface CompositeInput {
  /** Full-resolution source frames (RGB24). */
  readonly source: VideoFrames;
  /** Edited frames at the working size (RGB24), one per source frame. */
  readonly edited: VideoFrames;
  /** Per frame, the union of all regions at source size (0/1). */
  readonly regionMasks: readonly Uint8Array[];
  /** Width of the soft edge outside the regions, in source pixels. */
  readonly featherPx: number;
}

function checkShapes({ source, edited, regionMasks }: CompositeInput): void {
  const count = source.frames.length;
  if (edited.frames.length !== count || regionMasks.length !== count) {
    throw new RangeError(`composite needs one edited frame and one mask per source frame (${count})`);
  }
  const pixels = source.width * source.height;
  const sizesMatch =
    source.frames.every((f) => f.length === pixels * 3) &&
    edited.frames.every((f) => f.length === edited.width * edited.height * 3) &&
    regionMasks.every((m) => m.length === pixels);
  if (!sizesMatch) throw new RangeError('composite frame or mask buffers do not match their sizes');
}

/**
 * One edited row resampled across the window's columns (RGB floats), computed once per edited row and
 * shared by every source row that interpolates from it.
 */
function horizontalRows(edit: Uint8Array, editWidth: number, xTaps: BilinearTaps, from: number, to: number) {
  const rows = new Map<number, Float32Array>();
  return (editRow: number): Float32Array => {
    let row = rows.get(editRow);
    if (row) return row;
    row = new Float32Array((to - from) * 3);
    const base = editRow * editWidth * 3;
    for (let x = from; x < to; x++) {
      const a = base + xTaps.lower[x]! * 3;
      const b = base + xTaps.upper[x]! * 3;
      const w = xTaps.weight[x]!;
      for (let c = 0; c < 3; c++) row[(x - from) * 3 + c] = edit[a + c]! * (1 - w) + edit[b + c]! * w;
    }
    rows.set(editRow, row);
    return row;
  };
}

/** out = source * (1 - a) + upscaled edit * a, rounded; a is the feathered region mask. */
export function compositeOverSource(input: CompositeInput): VideoFrames {
  checkShapes(input);
  const { source, edited, regionMasks, featherPx } = input;
  const xTaps = bilinearTaps(source.width, edited.width);
  const yTaps = bilinearTaps(source.height, edited.height);

  const frames = source.frames.map((sourceFrame, f) => {
    const out = sourceFrame.slice();
    const feathered = featherAlpha(regionMasks[f]!, source, featherPx);
    if (!feathered) return out;
    const { window, alpha } = feathered;
    const [left, top, right, bottom] = window;
    const editedRow = horizontalRows(edited.frames[f]!, edited.width, xTaps, left, right);
    for (let y = top; y < bottom; y++) {
      const upper = editedRow(yTaps.lower[y]!);
      const lower = editedRow(yTaps.upper[y]!);
      const wy = yTaps.weight[y]!;
      const alphaRow = (y - top) * (right - left);
      const outRow = (y * source.width + left) * 3;
      for (let i = 0; i < right - left; i++) {
        const a = alpha[alphaRow + i]!;
        if (a === 0) continue;
        for (let c = 0; c < 3; c++) {
          const k = i * 3 + c;
          const up = upper[k]! * (1 - wy) + lower[k]! * wy;
          // +0.5 then the Uint8Array store's truncation rounds like Math.round (values are >= 0), without a global lookup.
          out[outRow + k] = sourceFrame[outRow + k]! * (1 - a) + up * a + 0.5;
        }
      }
    }
    return out;
  });
  return { width: source.width, height: source.height, frames };
}
