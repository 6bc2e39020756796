import { rm } from 'node:fs/promises';
import path from 'node:path';
import { CancelledError } from '../../src/errors';
import { DEFAULT_MAX_DECODE_FRAMES, decodeSegment } from '../../src/media/decode';
import { probeClip } from '../../src/media/probe';
import type { Rational } from '../../src/media/types';
import {
  ffmpeg,
  haresClip,
  makeTempDir,
  readFrameIndex,
  VFR_DESIGN,
  writeHd2398WithAudio,
  writeIndexedClip,
  writeVfrIndexedClip,
} from './fixtures';

let dir: string;
const file = (name: string) => path.join(dir, name);
const NTSC_FILM: Rational = { num: 24000, den: 1001 };
const NTSC_VIDEO: Rational = { num: 30000, den: 1001 };

beforeAll(async () => {
  dir = await makeTempDir('decode');
  await Promise.all([
    writeIndexedClip(file('film.mp4'), { count: 60, rate: '24000/1001', width: 256, height: 128 }),
    // 29.97 on a 90 kHz clock, the video starting 0.5 s after the audio (as some cameras write it).
    writeIndexedClip(file('late-video.mov'), {
      count: 40,
      rate: '30000/1001',
      width: 256,
      height: 128,
      outputArgs: ['-video_track_timescale', '90000'],
    }).then(() =>
      ffmpeg([
        ...['-itsoffset', '0.5', '-i', file('late-video.mov'), '-f', 'lavfi', '-i', 'sine=sample_rate=48000:duration=2'],
        ...['-map', '0:v', '-map', '1:a', '-c:v', 'copy', '-c:a', 'pcm_s16le', file('late-video-with-audio.mov')],
      ]),
    ),
    writeVfrIndexedClip(file('vfr.mkv')),
    writeHd2398WithAudio(file('hd.mp4'), 16),
  ]);
});

afterAll(() => rm(dir, { recursive: true, force: true }));

const indicesOf = ({ width, height, frames }: { width: number; height: number; frames: Uint8Array[] }) =>
  frames.map((f) => readFrameIndex(f, width, height));
const range = (start: number, count: number) => Array.from({ length: count }, (_, i) => start + i);

describe('decodeSegment is frame-accurate', () => {
  // Starts before, on and after keyframes (every 12th frame) of a clip with B-frames.
  it.each([
    [0, 8],
    [11, 6],
    [12, 4],
    [13, 8],
    [47, 13],
  ])('23.976 fps: frames %i+%i are exactly those source frames', async (startFrame, frameCount) => {
    const segment = await decodeSegment(file('film.mp4'), { startFrame, frameCount, frameRate: NTSC_FILM });
    expect(segment).toMatchObject({ width: 256, height: 128 });
    expect(indicesOf(segment)).toEqual(range(startFrame, frameCount));
  });

  it('scaled to a working size, the same frames', async () => {
    const segment = await decodeSegment(file('film.mp4'), {
      startFrame: 30,
      frameCount: 5,
      frameRate: NTSC_FILM,
      size: { width: 128, height: 64 },
    });
    expect(segment.frames.every((f) => f.length === 128 * 64 * 3)).toBe(true);
    expect(indicesOf(segment)).toEqual(range(30, 5));
  });

  it('29.97 fps with the video starting after the audio: frame 0 is the first video frame', async () => {
    const clip = file('late-video-with-audio.mov');
    expect((await probeClip(clip)).frameRate).toEqual(NTSC_VIDEO);
    expect(indicesOf(await decodeSegment(clip, { startFrame: 0, frameCount: 3, frameRate: NTSC_VIDEO }))).toEqual([0, 1, 2]);
    expect(indicesOf(await decodeSegment(clip, { startFrame: 25, frameCount: 4, frameRate: NTSC_VIDEO }))).toEqual(range(25, 4));
  });

  it('variable frame rate: each grid frame shows the source frame on screen then (timestamps rounded to the grid)', async () => {
    const clip = file('vfr.mkv');
    const info = await probeClip(clip);
    const present = range(0, VFR_DESIGN.count).filter((i) => !VFR_DESIGN.dropped.includes(i));
    const slotOf = (i: number) => Math.round(VFR_DESIGN.timeOf(i) * 30);
    const expected = range(0, info.frameCount).map((k) => present.filter((i) => slotOf(i) <= k).at(-1));
    const segment = await decodeSegment(clip, { startFrame: 0, frameCount: info.frameCount, frameRate: info.frameRate });
    expect(indicesOf(segment)).toEqual(expected);
    expect(expected.slice(9, 13)).toEqual([9, 9, 9, 12]); // frame 9 holds across the gap
    const later = await decodeSegment(clip, { startFrame: 20, frameCount: 6, frameRate: info.frameRate });
    expect(indicesOf(later)).toEqual(expected.slice(20, 26));
  });
});

describe('decodeSegment sizes and limits', () => {
  it('decodes at full size when no size is given (the composite’s source frames)', async () => {
    const started = Date.now();
    const segment = await decodeSegment(file('hd.mp4'), { startFrame: 0, frameCount: 16, frameRate: NTSC_FILM });
    console.log(`16 frames of 1080p decoded in ${Date.now() - started} ms`);
    expect(segment).toMatchObject({ width: 1920, height: 1080 });
    expect(segment.frames).toHaveLength(16);
    expect(segment.frames.every((f) => f.length === 1920 * 1080 * 3)).toBe(true);
  });

  it('decodes the sample footage at its own size', async () => {
    const segment = await decodeSegment(haresClip, { startFrame: 4, frameCount: 12, frameRate: { num: 10, den: 1 } });
    expect(segment).toMatchObject({ width: 768, height: 448 });
    expect(segment.frames).toHaveLength(12);
  });

  it('refuses a segment over maxFrames with CLIP_TOO_LONG before touching the file', async () => {
    const tooMany = { startFrame: 0, frameCount: DEFAULT_MAX_DECODE_FRAMES + 1, frameRate: NTSC_FILM };
    await expect(decodeSegment(file('not-even-there.mp4'), tooMany)).rejects.toMatchObject({ code: 'CLIP_TOO_LONG' });
    const custom = { startFrame: 0, frameCount: 9, frameRate: NTSC_FILM, maxFrames: 8 };
    await expect(decodeSegment(file('film.mp4'), custom)).rejects.toMatchObject({ code: 'CLIP_TOO_LONG' });
  });

  it('fails clearly past the end of the clip and for a missing file', async () => {
    const pastEnd = { startFrame: 55, frameCount: 10, frameRate: NTSC_FILM };
    await expect(decodeSegment(file('film.mp4'), pastEnd)).rejects.toMatchObject({
      code: 'MEDIA_UNREADABLE',
      message: expect.stringMatching(/Only 5 of frames 55-64/),
    });
    const anywhere = { startFrame: 0, frameCount: 1, frameRate: NTSC_FILM };
    await expect(decodeSegment(file('missing.mp4'), anywhere)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it('stops on abort', async () => {
    const controller = new AbortController();
    const run = decodeSegment(file('hd.mp4'), { startFrame: 0, frameCount: 16, frameRate: NTSC_FILM, signal: controller.signal });
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(CancelledError);
  });
});
