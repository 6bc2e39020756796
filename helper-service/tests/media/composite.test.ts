import { randomBytes } from 'node:crypto';
import { compositeOverSource } from '../../src/media/composite';
import { featherAlpha, maskBoundingBox } from '../../src/media/feather';
import { rasterizeBox, type BoxPx, type Size } from '../../src/regions';

/** Chebyshev distance from pixel (x, y) to a box (0 inside). */
function distanceToBox(x: number, y: number, box: BoxPx): number {
  const dx = Math.max(box[0] - x, 0, x - (box[2] - 1));
  const dy = Math.max(box[1] - y, 0, y - (box[3] - 1));
  return Math.max(dx, dy);
}

describe('featherAlpha', () => {
  const size: Size = { width: 400, height: 300 };
  const box: BoxPx = [100, 100, 200, 160];

  it.each([1, 2, 7, 16, 33])('feather %i: exactly 1 on the region, exactly 0 beyond the band, a ramp between', (feather) => {
    const { window, alpha } = featherAlpha(rasterizeBox(box, size, 1), size, feather)!;
    const at = (x: number, y: number) => {
      const inside = x >= window[0] && x < window[2] && y >= window[1] && y < window[3];
      return inside ? alpha[(y - window[1]) * (window[2] - window[0]) + (x - window[0])]! : 0;
    };
    const wrong = { insideNotOne: 0, beyondNotZero: 0, bandOutOfRange: 0 };
    for (let y = 0; y < size.height; y++) {
      for (let x = 0; x < size.width; x++) {
        const d = distanceToBox(x, y, box);
        const a = at(x, y);
        if (d === 0) wrong.insideNotOne += a === 1 ? 0 : 1;
        else if (d > feather) wrong.beyondNotZero += a === 0 ? 0 : 1;
        else wrong.bandOutOfRange += a >= 0 && a <= 1 ? 0 : 1;
      }
    }
    expect(wrong).toEqual({ insideNotOne: 0, beyondNotZero: 0, bandOutOfRange: 0 });
    // Along a row leaving the region to the right: non-increasing, with soft values when the band is wide.
    const ramp = Array.from({ length: feather + 2 }, (_, i) => at(box[2] - 1 + i, 130));
    ramp.slice(1).forEach((a, i) => expect(a).toBeLessThanOrEqual(ramp[i]!));
    if (feather >= 2) expect(ramp.some((a) => a > 0 && a < 1)).toBe(true);
  });

  it('keeps a region that touches the frame edge fully opaque up to the edge', () => {
    const corner: BoxPx = [0, 0, 50, 40];
    const { window, alpha } = featherAlpha(rasterizeBox(corner, size, 1), size, 12)!;
    expect(window.slice(0, 2)).toEqual([0, 0]);
    expect(alpha[0]).toBe(1);
  });

  it('feather 0 is the mask itself; an empty mask has no alpha', () => {
    const mask = rasterizeBox(box, size, 1);
    const { window, alpha } = featherAlpha(mask, size, 0)!;
    expect(window).toEqual(box);
    expect(alpha.every((a) => a === 1)).toBe(true);
    expect(featherAlpha(new Uint8Array(size.width * size.height), size, 8)).toBeUndefined();
    expect(maskBoundingBox(mask, size)).toEqual(box);
  });
});

describe('compositeOverSource', () => {
  const full: Size = { width: 1920, height: 1080 };
  const work: Size = { width: 768, height: 448 };
  const editColour = [10, 200, 30] as const;
  const frameCount = 16;
  const feather = 24;
  const boxAt = (f: number): BoxPx => [300 + f * 40, 200, 900 + f * 40, 700];

  it('16 frames of 1080p: byte-identical outside the feathered regions, the edit inside', () => {
    const noiseFrame = () => new Uint8Array(randomBytes(full.width * full.height * 3));
    const source = { ...full, frames: Array.from({ length: frameCount }, noiseFrame) };
    const sourceCopies = source.frames.map((f) => Buffer.from(f));
    const editFrame = new Uint8Array(work.width * work.height * 3).map((_, i) => editColour[i % 3]!);
    const edited = { ...work, frames: Array.from({ length: frameCount }, () => editFrame) };
    const regionMasks = Array.from({ length: frameCount }, (_, f) => rasterizeBox(boxAt(f), full, 1));

    const result = compositeOverSource({ source, edited, regionMasks, featherPx: feather });

    expect(result).toMatchObject(full);
    expect(source.frames.every((f, i) => sourceCopies[i]!.equals(f))).toBe(true); // inputs untouched
    for (const f of [0, 7, 15]) {
      const out = result.frames[f]!;
      const src = source.frames[f]!;
      const box = boxAt(f);
      const count = { outside: 0, outsideChanged: 0, inside: 0, insideNotEdit: 0 };
      for (let y = 0; y < full.height; y++) {
        for (let x = 0; x < full.width; x++) {
          const o = (y * full.width + x) * 3;
          const d = distanceToBox(x, y, box);
          const same = (rgb: readonly number[]) => out[o] === rgb[0] && out[o + 1] === rgb[1] && out[o + 2] === rgb[2];
          if (d > feather) {
            count.outside++;
            count.outsideChanged += same([src[o]!, src[o + 1]!, src[o + 2]!]) ? 0 : 1;
          } else if (d === 0) {
            count.inside++;
            count.insideNotEdit += same(editColour) ? 0 : 1;
          }
        }
      }
      expect(count).toMatchObject({ outsideChanged: 0, insideNotEdit: 0 });
      expect(count.outside).toBeGreaterThan(1_000_000);
      expect(count.inside).toBe(600 * 500);
    }
  });

  it('a frame with no region is a copy of the source', () => {
    const source = { width: 8, height: 4, frames: [new Uint8Array(randomBytes(8 * 4 * 3))] };
    const edited = { width: 4, height: 2, frames: [new Uint8Array(4 * 2 * 3)] };
    const result = compositeOverSource({ source, edited, regionMasks: [new Uint8Array(32)], featherPx: 4 });
    expect(result.frames[0]).toEqual(source.frames[0]);
    expect(result.frames[0]).not.toBe(source.frames[0]);
  });

  it('refuses mismatched frame counts or buffer sizes', () => {
    const source = { width: 8, height: 4, frames: [new Uint8Array(96)] };
    const edited = { width: 4, height: 2, frames: [new Uint8Array(24)] };
    expect(() => compositeOverSource({ source, edited, regionMasks: [], featherPx: 2 })).toThrow(RangeError);
    expect(() => compositeOverSource({ source, edited, regionMasks: [new Uint8Array(31)], featherPx: 2 })).toThrow(RangeError);
  });
});
