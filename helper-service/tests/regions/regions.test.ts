import {
  boxInsideFrame,
  countInside,
  downsampleMask,
  interpolateBox,
  rasterizeBox,
  roundHalfEven,
  scaleBox,
} from '../../src/regions';

describe('roundHalfEven (Python round)', () => {
  it.each([
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [3.5, 4],
    [2.4, 2],
    [2.6, 3],
    [-0.5, -0],
    [-1.5, -2],
    [7, 7],
  ])('round(%p) = %p', (x, expected) => expect(roundHalfEven(x)).toBe(expected));
});

describe('interpolateBox', () => {
  const keyframes = [
    { frame: 0, box: [0, 0, 10, 10] as const },
    { frame: 10, box: [100, 50, 110, 60] as const },
  ];
  it('is linear between keyframes', () => {
    expect(interpolateBox(keyframes, 5)).toEqual([50, 25, 60, 35]);
    expect(interpolateBox(keyframes, 2)).toEqual([20, 10, 30, 20]);
  });
  it('holds before the first and after the last keyframe', () => {
    expect(interpolateBox(keyframes, -3)).toEqual([0, 0, 10, 10]);
    expect(interpolateBox(keyframes, 99)).toEqual([100, 50, 110, 60]);
  });
  it('accepts keyframes in any order', () => {
    expect(interpolateBox([...keyframes].reverse(), 5)).toEqual([50, 25, 60, 35]);
  });
  it('refuses an empty track', () => expect(() => interpolateBox([], 0)).toThrow(RangeError));
});

describe('rasterizeBox', () => {
  it('reproduces the reference dolphins boxes at 14x24 (cells of 32 px)', () => {
    // [93,287,269,417] -> round(2.906)=3, round(8.97)=9, round(8.406)=8, round(13.03)=13: 5 x 4 cells
    const grid = rasterizeBox([93, 287, 269, 417], { width: 24, height: 14 }, 32);
    expect(countInside(grid)).toBe(20);
    expect(grid[9 * 24 + 3]).toBe(1);
    expect(grid[9 * 24 + 8]).toBe(0);
    expect(grid[12 * 24 + 7]).toBe(1);
    expect(grid[13 * 24 + 7]).toBe(0);
    // [262,257,477,378] -> x 8.19->8 .. 14.9->15, y 8.03->8 .. 11.8->12: 7 x 4 cells
    expect(countInside(rasterizeBox([262, 257, 477, 378], { width: 24, height: 14 }, 32))).toBe(28);
  });
  it('rounds halves to even like Python', () => {
    // 48/32 = 1.5 -> 2 and 80/32 = 2.5 -> 2: an empty box
    expect(countInside(rasterizeBox([48, 0, 80, 32], { width: 8, height: 8 }, 32))).toBe(0);
  });
  it('clamps to the grid', () => {
    expect(countInside(rasterizeBox([-64, -64, 1000, 64], { width: 4, height: 4 }, 32))).toBe(8);
  });
});

describe('downsampleMask', () => {
  it('keeps cells at least half covered', () => {
    const size = { width: 4, height: 4 };
    const mask = new Uint8Array(16);
    mask.set([1, 1, 0, 0], 0); // top-left 2x2 cell: 2 of 4 pixels -> inside
    mask.set([0, 0, 1, 0], 4); // top-right cell: 1 of 4 -> outside
    expect(Array.from(downsampleMask(mask, size, 2))).toEqual([1, 0, 0, 0]);
  });
});

describe('scaleBox and boxInsideFrame', () => {
  it('maps clip pixels to working pixels', () => {
    expect(scaleBox([192, 108, 960, 540], { width: 1920, height: 1080 }, { width: 768, height: 448 })).toEqual([
      76.8, 44.8, 384, 224,
    ]);
  });
  it('checks area and bounds', () => {
    expect(boxInsideFrame([0, 0, 768, 448], { width: 768, height: 448 })).toBe(true);
    expect(boxInsideFrame([10, 10, 10, 20], { width: 768, height: 448 })).toBe(false);
    expect(boxInsideFrame([-1, 0, 10, 10], { width: 768, height: 448 })).toBe(false);
    expect(boxInsideFrame([0, 0, 769, 10], { width: 768, height: 448 })).toBe(false);
  });
});
