/**
 * Scores for the spatial-control benchmark, on RGB24 frames of the shapes world: find the requested
 * object by colour, tell its shape, and compare the background with the source.
 */
import type { BoxPx, Size } from '../regions';

export type Shape = 'circle' | 'square' | 'triangle' | 'star' | 'ring';

export interface Component {
  area: number;
  cx: number;
  cy: number;
  box: BoxPx;
  /** Background pixels enclosed by the component (a ring's hole). */
  holeArea: number;
  /** Pixels of the component with a 4-neighbour outside it. */
  perimeter: number;
}

/** The largest 4-connected set of pixels within `tolerance` (RGB distance) of `rgb`, or null. */
export function findColor(frame: Uint8Array, size: Size, rgb: readonly number[], tolerance = 70): Component | null {
  const { width, height } = size;
  const n = width * height;
  const match = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const dr = frame[3 * i]! - rgb[0]!;
    const dg = frame[3 * i + 1]! - rgb[1]!;
    const db = frame[3 * i + 2]! - rgb[2]!;
    match[i] = dr * dr + dg * dg + db * db <= tolerance * tolerance ? 1 : 0;
  }
  const label = new Int32Array(n).fill(-1);
  const stack: number[] = [];
  let best: { pixels: number[] } | null = null;
  for (let start = 0; start < n; start++) {
    if (!match[start] || label[start] !== -1) continue;
    const pixels: number[] = [];
    label[start] = start;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      pixels.push(p);
      const x = p % width;
      for (const q of [p - 1, p + 1, p - width, p + width]) {
        if (q < 0 || q >= n || (q === p - 1 && x === 0) || (q === p + 1 && x === width - 1)) continue;
        if (match[q] && label[q] === -1) {
          label[q] = start;
          stack.push(q);
        }
      }
    }
    if (!best || pixels.length > best.pixels.length) best = { pixels };
  }
  if (!best) return null;
  let sx = 0;
  let sy = 0;
  let x1 = width;
  let y1 = height;
  let x2 = 0;
  let y2 = 0;
  const inside = new Uint8Array(n);
  for (const p of best.pixels) inside[p] = 1;
  let perimeter = 0;
  for (const p of best.pixels) {
    const x = p % width;
    const y = (p / width) | 0;
    sx += x;
    sy += y;
    x1 = Math.min(x1, x);
    y1 = Math.min(y1, y);
    x2 = Math.max(x2, x + 1);
    y2 = Math.max(y2, y + 1);
    if (x === 0 || y === 0 || x === width - 1 || y === height - 1 || !inside[p - 1] || !inside[p + 1] || !inside[p - width] || !inside[p + width]) perimeter++;
  }
  const area = best.pixels.length;
  return { area, cx: sx / area + 0.5, cy: sy / area + 0.5, box: [x1, y1, x2, y2], holeArea: enclosedArea(inside, size, [x1, y1, x2, y2]), perimeter };
}

/** Pixels inside the component's box that are not the component and cannot reach the box's edge. */
function enclosedArea(inside: Uint8Array, size: Size, box: BoxPx): number {
  const [x1, y1, x2, y2] = box;
  const w = x2 - x1;
  const h = y2 - y1;
  const outside = new Uint8Array(w * h);
  const stack: number[] = [];
  const seed = (x: number, y: number) => {
    const i = (y - y1) * w + (x - x1);
    if (!inside[y * size.width + x] && !outside[i]) {
      outside[i] = 1;
      stack.push(i);
    }
  };
  for (let x = x1; x < x2; x++) {
    seed(x, y1);
    seed(x, y2 - 1);
  }
  for (let y = y1; y < y2; y++) {
    seed(x1, y);
    seed(x2 - 1, y);
  }
  while (stack.length) {
    const i = stack.pop()!;
    const x = (i % w) + x1;
    const y = ((i / w) | 0) + y1;
    if (x > x1) seed(x - 1, y);
    if (x < x2 - 1) seed(x + 1, y);
    if (y > y1) seed(x, y - 1);
    if (y < y2 - 1) seed(x, y + 1);
  }
  let enclosed = 0;
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) if (!inside[y * size.width + x] && !outside[(y - y1) * w + (x - x1)]) enclosed++;
  return enclosed;
}

/**
 * The shape from whether it encloses a hole (ring), how much of its bounding box it fills (square
 * ~0.97, circle ~0.79, triangle and star ~0.45) and, between triangle and star, its compactness
 * perimeter² / (4π area): the star's spikes make it far less compact.
 */
export function classifyShape(c: Component): Shape {
  const boxArea = (c.box[2] - c.box[0]) * (c.box[3] - c.box[1]);
  if (c.holeArea > 0.08 * (c.area + c.holeArea)) return 'ring';
  const fill = c.area / boxArea;
  if (fill > 0.88) return 'square';
  if (fill > 0.62) return 'circle';
  const compactness = (c.perimeter * c.perimeter) / (4 * Math.PI * c.area);
  return compactness > 1.45 ? 'star' : 'triangle';
}

export function insideBox(x: number, y: number, box: BoxPx): boolean {
  return x >= box[0] && x < box[2] && y >= box[1] && y < box[3];
}

/** A 0/1 mask of the pixels farther than `marginPx` from every box (the background to compare). */
export function outsideBoxes(size: Size, boxes: readonly BoxPx[], marginPx: number): Uint8Array {
  const mask = new Uint8Array(size.width * size.height).fill(1);
  for (const [x1, y1, x2, y2] of boxes) {
    for (let y = Math.max(0, Math.floor(y1 - marginPx)); y < Math.min(size.height, Math.ceil(y2 + marginPx)); y++) {
      for (let x = Math.max(0, Math.floor(x1 - marginPx)); x < Math.min(size.width, Math.ceil(x2 + marginPx)); x++) mask[y * size.width + x] = 0;
    }
  }
  return mask;
}

/** PSNR (dB) over the masked pixels, all three channels; Infinity when identical. */
export function psnr(a: Uint8Array, b: Uint8Array, mask: Uint8Array): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    for (let c = 0; c < 3; c++) {
      const d = a[3 * i + c]! - b[3 * i + c]!;
      sum += d * d;
    }
    count += 3;
  }
  return sum === 0 ? Infinity : 10 * Math.log10((255 * 255 * count) / sum);
}

/** Mean SSIM of the luma over 7x7 windows lying entirely in the mask (the standard constants). */
export function ssim(a: Uint8Array, b: Uint8Array, size: Size, mask: Uint8Array, window = 7): number {
  const { width, height } = size;
  const luma = (rgb: Uint8Array) => Float64Array.from({ length: width * height }, (_, i) => 0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!);
  const la = luma(a);
  const lb = luma(b);
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let total = 0;
  let windows = 0;
  for (let y0 = 0; y0 + window <= height; y0 += 2) {
    for (let x0 = 0; x0 + window <= width; x0 += 2) {
      let ok = true;
      let ma = 0;
      let mb = 0;
      for (let y = y0; y < y0 + window && ok; y++) {
        for (let x = x0; x < x0 + window; x++) {
          const i = y * width + x;
          if (!mask[i]) {
            ok = false;
            break;
          }
          ma += la[i]!;
          mb += lb[i]!;
        }
      }
      if (!ok) continue;
      const n = window * window;
      ma /= n;
      mb /= n;
      let va = 0;
      let vb = 0;
      let cov = 0;
      for (let y = y0; y < y0 + window; y++) {
        for (let x = x0; x < x0 + window; x++) {
          const i = y * width + x;
          va += (la[i]! - ma) ** 2;
          vb += (lb[i]! - mb) ** 2;
          cov += (la[i]! - ma) * (lb[i]! - mb);
        }
      }
      va /= n - 1;
      vb /= n - 1;
      cov /= n - 1;
      total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      windows++;
    }
  }
  return windows ? total / windows : NaN;
}

export function mean(values: readonly number[]): number {
  return values.length ? values.reduce((s, v) => s + v, 0) / values.length : NaN;
}

export function std(values: readonly number[]): number {
  const m = mean(values);
  return values.length > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - 1)) : 0;
}
