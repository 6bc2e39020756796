import { chooseWorkingSize } from '../../src/media/working-size';

const SD = { multiple: 64, maxPixels: 768 * 448 };

describe('chooseWorkingSize', () => {
  // Worked by hand: ideal = clip scaled to maxPixels; sides rounded to 64; shrink while over budget.
  it.each([
    // 16:9: ideal 782.1x439.9 -> 768x448 (= budget), the reference's size.
    [1920, 1080, SD, 768, 448],
    [3840, 2160, SD, 768, 448],
    [1080, 1920, SD, 448, 768],
    [768, 448, SD, 768, 448],
    // 4:3: ideal 677.3x508.0 -> 704x512 is over; 640x512 (1.25) beats 704x448 (1.57) for 1.33.
    [1440, 1080, SD, 640, 512],
    // DCI 1.90: ideal 807.7x426.0 -> 832x448 is over; 768x448 (1.71) beats 832x384 (2.17).
    [4096, 2160, SD, 768, 448],
    // 3:2: ideal 718.4x478.9 -> 704x448 fits.
    [720, 480, SD, 704, 448],
    // Small clips are scaled up to the budget: 640x360 -> 768x448.
    [640, 360, SD, 768, 448],
    // maxSide caps the scale: 1920 * (1024 / 1920) = 1024, 1080 * 0.533 = 576.
    [1920, 1080, { multiple: 64, maxPixels: 4096 * 4096, maxSide: 1024 }, 1024, 576],
    // Square budget for a square model: 512x512.
    [1080, 1080, { multiple: 64, maxPixels: 512 * 512 }, 512, 512],
    // Extreme panorama: the short side cannot go below one multiple; the long side shrinks to fit.
    [10000, 100, { multiple: 64, maxPixels: 64 * 64 * 4 }, 256, 64],
    // multiple 8: 1920x1080 in 100,000 pixels -> ideal 421.6x237.2 -> 424x240 is over; 416x240.
    [1920, 1080, { multiple: 8, maxPixels: 100_000 }, 416, 240],
  ])('%ix%i %j -> %ix%i', (width, height, options, expectedWidth, expectedHeight) => {
    const size = chooseWorkingSize({ width, height }, options);
    expect(size).toEqual({ width: expectedWidth, height: expectedHeight });
    expect(size.width * size.height).toBeLessThanOrEqual(options.maxPixels);
    expect(size.width % options.multiple).toBe(0);
    expect(size.height % options.multiple).toBe(0);
  });

  it('refuses budgets that cannot hold one multiple, and empty clips', () => {
    expect(() => chooseWorkingSize({ width: 1920, height: 1080 }, { multiple: 64, maxPixels: 4000 })).toThrow(
      expect.objectContaining({ code: 'FRAME_SIZE_INVALID' }),
    );
    expect(() => chooseWorkingSize({ width: 0, height: 1080 }, SD)).toThrow(
      expect.objectContaining({ code: 'FRAME_SIZE_INVALID' }),
    );
    expect(() => chooseWorkingSize({ width: 1920, height: 1080 }, { ...SD, maxSide: 32 })).toThrow(
      expect.objectContaining({ code: 'FRAME_SIZE_INVALID' }),
    );
  });
});
