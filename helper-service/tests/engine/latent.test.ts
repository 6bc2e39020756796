import { descend_, guide, repeatFirstHalf_, sliceFrames, type Latent } from '../../src/engine/tensor/latent';

/** 2 channels x 3 frames of 1 x 2: value = 100 c + 10 f + p. */
function numbered(): Latent {
  const data = new Float32Array(12);
  for (let c = 0; c < 2; c++) for (let f = 0; f < 3; f++) for (let p = 0; p < 2; p++) data[(c * 3 + f) * 2 + p] = 100 * c + 10 * f + p;
  return { channels: 2, frames: 3, height: 1, width: 2, data };
}

describe('latent helpers', () => {
  it('descend_ moves x by −α·g in place', () => {
    const x = Float32Array.of(1, 2, 3);
    expect(descend_(x, 0.5, Float32Array.of(2, 4, -2))).toBe(true);
    expect(Array.from(x)).toEqual([0, 0, 4]);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])('descend_ leaves x untouched when the gradient holds %p', (bad) => {
    const x = Float32Array.of(1, 2, 3);
    expect(descend_(x, 0.5, Float32Array.of(2, bad, -2))).toBe(false);
    expect(Array.from(x)).toEqual([1, 2, 3]);
  });

  it('repeatFirstHalf_ copies the sample into the second half of the batch', () => {
    const batch = Float32Array.of(1, 2, 3, 0, 0, 0);
    expect(repeatFirstHalf_(batch)).toBe(batch);
    expect(Array.from(batch)).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it('guide writes ε_u + w (ε_c − ε_u) into the array it is given', () => {
    const out = new Float32Array(2);
    expect(guide(Float32Array.of(1, 2, 3, 6), 2, out)).toBe(out);
    expect(Array.from(out)).toEqual([5, 10]);
  });

  it('sliceFrames copies frames of every channel, into `out` when given; the whole clip is the latent itself', () => {
    const latent = numbered();
    const out = new Float32Array(8).fill(-1);
    const window = sliceFrames(latent, 1, 3, out);
    expect(window.data).toBe(out);
    expect(window.frames).toBe(2);
    expect(Array.from(out)).toEqual([10, 11, 20, 21, 110, 111, 120, 121]);
    expect(Array.from(sliceFrames(latent, 0, 2).data)).toEqual([0, 1, 10, 11, 100, 101, 110, 111]);
    expect(sliceFrames(latent, 0, 3, out)).toBe(latent);
  });
});
