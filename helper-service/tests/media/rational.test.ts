import { formatRational, frameStartSec, nominalFrameRate, parseRational } from '../../src/media/rational';

describe('frame-rate rationals', () => {
  it('parses ffprobe rates, reduced, and rejects unknown ones', () => {
    expect(parseRational('24000/1001')).toEqual({ num: 24000, den: 1001 });
    expect(parseRational('90000/3003')).toEqual({ num: 30000, den: 1001 });
    expect(parseRational('0/0')).toBeUndefined();
    expect(parseRational(undefined)).toBeUndefined();
    expect(formatRational({ num: 60000, den: 1001 })).toBe('60000/1001');
  });

  it('places frames on the exact grid', () => {
    expect(frameStartSec(24, { num: 24000, den: 1001 })).toBe(1.001);
    expect(frameStartSec(16, { num: 10, den: 1 })).toBe(1.6);
  });

  it.each([
    // ffmpeg's guess wins when it agrees with the measurement within 2%.
    [29.8, { num: 30, den: 1 }, { num: 30, den: 1 }],
    // Otherwise the nearest NTSC or whole rate within 2%: 29.9 is nearer 29.97 than 30.
    [29.9, { num: 90000, den: 1 }, { num: 30000, den: 1001 }],
    [24.2, undefined, { num: 24, den: 1 }],
    [59.9, undefined, { num: 60000, den: 1001 }],
    [10.05, undefined, { num: 10, den: 1 }],
    // Nothing standard nearby: the measurement itself, to 1/1000 fps.
    [17.35, undefined, { num: 347, den: 20 }],
  ])('variable rate measured at %p fps (ffmpeg guess %j) is treated as %j', (measured, guess, expected) => {
    expect(nominalFrameRate(measured, guess)).toEqual(expected);
  });
});
