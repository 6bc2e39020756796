import { countInside, downsampleMask, interpolateBox, rasterizeBox, type BoxKeyframe, type Size } from '../../regions';

/** Where one object must appear, in working-frame pixels: keyframed boxes or one mask per frame. */
export type ObjectRegion =
  | { readonly kind: 'boxes'; readonly keyframes: readonly BoxKeyframe[] }
  | { readonly kind: 'masks'; readonly masks: readonly Uint8Array[] };

/**
 * The object's region on a grid of `cellPx`-pixel cells for every frame, concatenated (frames, gh, gw):
 * boxes rounded the reference's way, masks kept where at least half a cell is inside.
 */
export function regionGrid(region: ObjectRegion, frames: number, frame: Size, cellPx: number): Uint8Array {
  const grid = { width: frame.width / cellPx, height: frame.height / cellPx };
  const plane = grid.width * grid.height;
  const out = new Uint8Array(frames * plane);
  for (let f = 0; f < frames; f++) {
    const cells =
      region.kind === 'boxes'
        ? rasterizeBox(interpolateBox(region.keyframes, f), grid, cellPx)
        : downsampleMask(region.kind === 'masks' ? (region.masks[region.masks.length === 1 ? 0 : f] as Uint8Array) : new Uint8Array(), frame, cellPx);
    out.set(cells, f * plane);
  }
  return out;
}

/** Cells inside per frame, for validation and for k of the top-k. */
export function cellsPerFrame(grid: Uint8Array, frames: number): number[] {
  const plane = grid.length / frames;
  return Array.from({ length: frames }, (_, f) => countInside(grid.subarray(f * plane, (f + 1) * plane)));
}

/**
 * Rank weights that turn the RAD graph's descending sort into "mean of the top k" per object and frame:
 * 1/k on the first k ranks, k = max(1, floor(fraction · cells)), inside (fg) and outside (bg) the region.
 * grids: one (frames, cells) 0/1 grid per object. Returns (K, frames, cells) float32 each.
 */
export function rankWeights(grids: readonly Uint8Array[], frames: number, fraction: number): { fg: Float32Array; bg: Float32Array } {
  const cells = grids[0] ? grids[0].length / frames : 0;
  const fg = new Float32Array(grids.length * frames * cells);
  const bg = new Float32Array(grids.length * frames * cells);
  grids.forEach((grid, k) => {
    cellsPerFrame(grid, frames).forEach((inside, f) => {
      const base = (k * frames + f) * cells;
      const kIn = Math.max(1, Math.floor(inside * fraction));
      const kOut = Math.max(1, Math.floor((cells - inside) * fraction));
      fg.fill(1 / kIn, base, base + kIn);
      bg.fill(1 / kOut, base, base + kOut);
    });
  });
  return { fg, bg };
}

/** The union of all object grids (IRJS's editable region). */
export function unionGrid(grids: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(grids[0]?.length ?? 0);
  for (const grid of grids) for (let i = 0; i < grid.length; i++) out[i] = out[i]! | grid[i]!;
  return out;
}

/** Frames [start, end) of a (frames, cells) grid. */
export function gridFrames(grid: Uint8Array, frames: number, start: number, end: number): Uint8Array {
  const plane = grid.length / frames;
  return grid.subarray(start * plane, end * plane);
}
