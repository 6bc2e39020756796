import type { BoxPx, Size } from './track';

/** Python's round(): halves go to the even neighbour. The reference rounds box coordinates this way. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * A box in working-frame pixels rasterised on a grid whose cells are `cellPx` pixels, exactly as the
 * reference does it: each coordinate divided by the cell size and rounded half-to-even, then the
 * slice [y1:y2, x1:x2] set to 1 (clamped to the grid). Returns a row-major grid of 0/1.
 */
export function rasterizeBox(box: BoxPx, grid: Size, cellPx: number): Uint8Array {
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const x1 = clamp(roundHalfEven(box[0] / cellPx), grid.width);
  const y1 = clamp(roundHalfEven(box[1] / cellPx), grid.height);
  const x2 = clamp(roundHalfEven(box[2] / cellPx), grid.width);
  const y2 = clamp(roundHalfEven(box[3] / cellPx), grid.height);
  const out = new Uint8Array(grid.width * grid.height);
  for (let y = y1; y < y2; y++) out.fill(1, y * grid.width + x1, y * grid.width + x2);
  return out;
}

/**
 * A mask at working resolution (row-major, nonzero = inside) reduced to a grid of `cellPx`-pixel
 * cells: a cell is inside when at least half of its pixels are.
 */
export function downsampleMask(mask: Uint8Array, size: Size, cellPx: number): Uint8Array {
  const gw = Math.floor(size.width / cellPx);
  const gh = Math.floor(size.height / cellPx);
  const out = new Uint8Array(gw * gh);
  const half = (cellPx * cellPx) / 2;
  for (let gy = 0; gy < gh; gy++) {
    for (let gx = 0; gx < gw; gx++) {
      let inside = 0;
      for (let y = gy * cellPx; y < (gy + 1) * cellPx; y++) {
        const row = y * size.width;
        for (let x = gx * cellPx; x < (gx + 1) * cellPx; x++) if (mask[row + x]) inside++;
      }
      out[gy * gw + gx] = inside >= half ? 1 : 0;
    }
  }
  return out;
}

/** Number of cells set in a 0/1 grid. */
export function countInside(grid: Uint8Array): number {
  let n = 0;
  for (const v of grid) n += v ? 1 : 0;
  return n;
}
