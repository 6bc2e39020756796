/**
 * The benchmark's scorer against an independent reference: the renderer's ground truth for every
 * source object of the committed benchmark clips (its colour, shape and box per frame).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { classifyShape, findColor, insideBox, outsideBoxes, psnr, ssim } from '../../src/bench/scoring';
import { decodeSegment } from '../../src/media';
import type { BoxPx } from '../../src/regions';
import { REPO_ROOT } from '../helpers/fixtures';

const BENCHMARK = path.join(REPO_ROOT, 'models/shapes-benchmark');
const spec = JSON.parse(readFileSync(path.join(BENCHMARK, 'cases.json'), 'utf8')) as {
  frames: number;
  size: number;
  cases: { clip: string; source_objects: { rgb: number[]; shape: string; boxes: number[][] }[] }[];
};
const size = { width: spec.size, height: spec.size };

it('finds every rendered object by its colour, inside its box, with its shape', async () => {
  let total = 0;
  let found = 0;
  let aligned = 0;
  let shapeRight = 0;
  const wrong: string[] = [];
  for (const c of spec.cases) {
    const clip = await decodeSegment(path.join(BENCHMARK, c.clip), { startFrame: 0, frameCount: spec.frames, frameRate: { num: 10, den: 1 } });
    for (const object of c.source_objects) {
      clip.frames.forEach((frame, f) => {
        total++;
        const component = findColor(frame, size, object.rgb);
        if (!component) return;
        found++;
        if (insideBox(component.cx, component.cy, object.boxes[f] as unknown as BoxPx)) aligned++;
        const shape = classifyShape(component);
        if (shape === object.shape) shapeRight++;
        else wrong.push(`${c.clip} ${object.shape} seen as ${shape}`);
      });
    }
  }
  // Objects may overlap and occlude one another, so not every frame of every object is clean.
  expect(found / total).toBeGreaterThan(0.95);
  expect(aligned / found).toBeGreaterThan(0.95);
  expect(shapeRight / found).toBeGreaterThan(0.85);
});

it('measures PSNR and SSIM only outside the regions', () => {
  const a = new Uint8Array(16 * 16 * 3).fill(100);
  const b = Uint8Array.from(a);
  for (let y = 4; y < 8; y++) for (let x = 4; x < 8; x++) b.fill(0, (y * 16 + x) * 3, (y * 16 + x) * 3 + 3);
  const mask = outsideBoxes({ width: 16, height: 16 }, [[4, 4, 8, 8]], 0);
  expect(psnr(a, b, mask)).toBe(Infinity);
  expect(ssim(a, b, { width: 16, height: 16 }, mask)).toBeCloseTo(1, 10);
  expect(psnr(a, b, new Uint8Array(256).fill(1))).toBeCloseTo(10 * Math.log10((255 * 255 * 768) / (48 * 100 * 100)), 6);
});
