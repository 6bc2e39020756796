import {
  formatTimecode,
  frameAtTicks,
  framesCovering,
  framesToTicks,
  rateFromFps,
  rateFromTicksPerFrame,
  secondsToTicks,
  ticksPerFrame,
  ticksToFrames,
  ticksToSeconds,
  TICKS_PER_SECOND,
} from '../src/host/ticks';
import { segmentOf } from '../src/host/segment';

const NTSC_24 = { num: 24000, den: 1001 };
const NTSC_30 = { num: 30000, den: 1001 };
const NTSC_60 = { num: 60000, den: 1001 };

describe('ticks per frame', () => {
  test.each([
    [NTSC_24, 10594584000n],
    [{ num: 24, den: 1 }, 10584000000n],
    [{ num: 25, den: 1 }, 10160640000n],
    [NTSC_30, 8475667200n],
    [NTSC_60, 4237833600n],
  ])('%o lasts an exact number of ticks', (rate, expected) => {
    expect(ticksPerFrame(rate)).toBe(expected);
    expect(rateFromTicksPerFrame(expected.toString())).toEqual(rate);
  });

  test('a rate that does not divide the tick clock is refused rather than rounded', () => {
    expect(() => ticksPerFrame({ num: 13, den: 1 })).toThrow(RangeError);
  });

  test('host fps numbers snap to the exact NTSC rates', () => {
    expect(rateFromFps(23.976)).toEqual(NTSC_24);
    expect(rateFromFps(23.976023976023978)).toEqual(NTSC_24);
    expect(rateFromFps(29.97)).toEqual(NTSC_30);
    expect(rateFromFps(59.94)).toEqual(NTSC_60);
    expect(rateFromFps(25)).toEqual({ num: 25, den: 1 });
    expect(rateFromFps(12.5)).toEqual({ num: 25, den: 2 });
  });
});

describe('tick and frame conversions', () => {
  test('23.976: whole frames, exactly, even ten hours in (past 2^53 ticks)', () => {
    const tenHours = 863136; // 10 h of 24000/1001 frames, rounded down
    const ticks = framesToTicks(tenHours, NTSC_24);
    expect(ticks > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(ticksToFrames(ticks, NTSC_24)).toBe(tenHours);
    expect(ticksToFrames(ticks + ticksPerFrame(NTSC_24), NTSC_24)).toBe(tenHours + 1);
  });

  test('29.97: one second of ticks is not a whole frame count, 1001 seconds is', () => {
    expect(() => ticksToFrames(TICKS_PER_SECOND, NTSC_30)).toThrow(RangeError);
    expect(ticksToFrames(1001n * TICKS_PER_SECOND, NTSC_30)).toBe(30000);
    expect(frameAtTicks(TICKS_PER_SECOND, NTSC_30)).toBe(29);
    expect(framesCovering(TICKS_PER_SECOND, NTSC_30)).toBe(30);
  });

  test('frameAtTicks floors and framesCovering rounds up, on and off the grid', () => {
    const perFrame = ticksPerFrame(NTSC_24);
    expect(frameAtTicks(5n * perFrame, NTSC_24)).toBe(5);
    expect(frameAtTicks(5n * perFrame + 1n, NTSC_24)).toBe(5);
    expect(frameAtTicks(5n * perFrame - 1n, NTSC_24)).toBe(4);
    expect(framesCovering(5n * perFrame, NTSC_24)).toBe(5);
    expect(framesCovering(5n * perFrame + 1n, NTSC_24)).toBe(6);
  });

  test('seconds are for display and input only, but round-trip to the nearest tick', () => {
    expect(ticksToSeconds(framesToTicks(24000, NTSC_24))).toBeCloseTo(1001, 9);
    expect(secondsToTicks(1.5)).toBe(381024000000n);
    expect(secondsToTicks(ticksToSeconds(123456789n))).toBe(123456789n);
  });
});

describe('timecode labels', () => {
  test.each([
    [0, '00:00:00;00'],
    [1799, '00:00:59;29'],
    [1800, '00:01:00;02'],
    [3597, '00:01:59;29'],
    [3598, '00:02:00;02'],
    [17982, '00:10:00;00'],
    [107892, '01:00:00;00'],
  ])('29.97 drop-frame: frame %d is %s', (frame, label) => {
    expect(formatTimecode(frame, NTSC_30)).toBe(label);
  });

  test('59.94 drops four labels a minute', () => {
    expect(formatTimecode(3599, NTSC_60)).toBe('00:00:59;59');
    expect(formatTimecode(3600, NTSC_60)).toBe('00:01:00;04');
  });

  test('23.976 counts 24 labels a second, without drops', () => {
    expect(formatTimecode(86400, NTSC_24)).toBe('01:00:00:00');
    expect(formatTimecode(86424, NTSC_24)).toBe('01:00:01:00');
  });
});

describe('the segment a timeline clip shows', () => {
  test('23.976: in and out on frame boundaries give the exact frames', () => {
    const clip = { sourceIn: framesToTicks(12, NTSC_24), sourceOut: framesToTicks(36, NTSC_24), frameRate: NTSC_24 };
    expect(segmentOf(clip)).toEqual({ startFrame: 12, frameCount: 24 });
  });

  test('29.97 media trimmed in a 23.976 sequence: partial frames at either end are included', () => {
    const perSequenceFrame = ticksPerFrame(NTSC_24);
    const clip = { sourceIn: 3n * perSequenceFrame, sourceOut: 27n * perSequenceFrame, frameRate: NTSC_30 };
    // 3 sequence frames = 3.75 media frames (starts inside frame 3); 27 = 33.75 (ends inside frame 33).
    expect(segmentOf(clip)).toEqual({ startFrame: 3, frameCount: 31 });
  });
});
