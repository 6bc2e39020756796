import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeSegment } from '../../src/media/decode';
import { probeClip } from '../../src/media/probe';
import {
  birdsClip,
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

beforeAll(async () => {
  dir = await makeTempDir('probe');
  await Promise.all([
    writeHd2398WithAudio(file('hd2398.mp4')),
    ffmpeg([
      ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30000/1001', '-f', 'lavfi', '-i', 'sine=sample_rate=48000'],
      ...['-frames:v', '30', '-t', '1.001', '-ac', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'],
      ...['-c:a', 'pcm_s16le', '-timecode', '01:00:00:00', file('ntsc2997.mov')],
    ]),
    writeVfrIndexedClip(file('vfr.mkv')),
    // A phone held upright: landscape pixels plus a 90 degree display matrix (set on a stream copy,
    // where ffmpeg 4.1 keeps it).
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-frames:v', '5', file('landscape.mp4')]).then(() =>
      ffmpeg(['-i', file('landscape.mp4'), '-c', 'copy', '-metadata:s:v:0', 'rotate=90', file('rotated.mp4')]),
    ),
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=360x240:rate=25', '-frames:v', '5', '-vf', 'setsar=4/3', file('anamorphic.mp4')]),
    writeIndexedClip(file('indexed.mp4'), {
      count: 48,
      rate: '24',
      width: 256,
      height: 128,
      outputArgs: ['-movflags', '+faststart'],
    }),
    writeFile(file('notes.mp4'), 'These are my notes, not a video.\n'),
  ]);
  // Recorder stopped early: MP4 written index-last, cut off before the index.
  const whole = await readFile(file('hd2398.mp4'));
  await writeFile(file('cut-before-index.mp4'), whole.subarray(0, Math.floor(whole.length / 2)));
  // Copy interrupted: MP4 written index-first (faststart), cut off halfway through the frames.
  const indexFirst = await readFile(file('indexed.mp4'));
  await writeFile(file('cut-frames.mp4'), indexFirst.subarray(0, Math.floor(indexFirst.length * 0.6)));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('probeClip on the sample footage', () => {
  it.each([haresClip, birdsClip])('%s: 16 frames of 768x448 H.264 at 10 fps, no audio', async (clip) => {
    const info = await probeClip(clip);
    expect(info).toMatchObject({
      path: clip,
      width: 768,
      height: 448,
      frameRate: { num: 10, den: 1 },
      fps: 10,
      frameCount: 16,
      durationSec: 1.6,
      videoCodec: 'h264',
      pixelFormat: 'yuv420p',
      hasAudio: false,
      variableFrameRate: false,
      truncated: false,
    });
    expect(info.audioCodec).toBeUndefined();
  });
});

describe('probeClip on editor footage', () => {
  it('1080p 23.976 with AAC audio: exact rational rate, frame count, audio facts, BT.709', async () => {
    const info = await probeClip(file('hd2398.mp4'));
    expect(info).toMatchObject({
      width: 1920,
      height: 1080,
      frameRate: { num: 24000, den: 1001 },
      frameCount: 24,
      hasAudio: true,
      audioCodec: 'aac',
      audioSampleRate: 48000,
      audioChannels: 2,
      variableFrameRate: false,
      colorMatrix: 'bt709',
    });
    expect(info.fps).toBeCloseTo(23.976, 3);
    expect(info.durationSec).toBeCloseTo(1.001, 6);
  });

  it('29.97 in QuickTime with PCM audio and a timecode track', async () => {
    const info = await probeClip(file('ntsc2997.mov'));
    expect(info).toMatchObject({
      width: 640,
      height: 360,
      frameRate: { num: 30000, den: 1001 },
      frameCount: 30,
      audioCodec: 'pcm_s16le',
      timecodeStart: '01:00:00:00',
      colorMatrix: 'bt601',
    });
  });

  it('variable frame rate: flagged, with a nominal constant rate and the frames on its grid', async () => {
    const info = await probeClip(file('vfr.mkv'));
    expect(info.variableFrameRate).toBe(true);
    expect(info.frameRate).toEqual({ num: 30, den: 1 });
    expect(info.frameCount).toBe(Math.round(VFR_DESIGN.timeOf(VFR_DESIGN.count - 1) * 30) + 1);
  });

  it('rotation metadata and non-square pixels give the display size', async () => {
    const rotated = await probeClip(file('rotated.mp4'));
    expect(rotated).toMatchObject({ width: 240, height: 320 });
    const upright = await decodeSegment(file('rotated.mp4'), { startFrame: 0, frameCount: 1, frameRate: rotated.frameRate });
    expect(upright).toMatchObject({ width: 240, height: 320 });
    expect(await probeClip(file('anamorphic.mp4'))).toMatchObject({ width: 480, height: 240 });
  });
});

describe('probeClip on bad input', () => {
  it('a missing file is FILE_NOT_FOUND', async () => {
    await expect(probeClip(file('nowhere.mp4'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it('a text file named .mp4 is MEDIA_UNREADABLE: not a video', async () => {
    await expect(probeClip(file('notes.mp4'))).rejects.toMatchObject({
      code: 'MEDIA_UNREADABLE',
      message: expect.stringMatching(/not a video/),
    });
  });

  it('an MP4 cut off before its index is MEDIA_UNREADABLE: incomplete', async () => {
    await expect(probeClip(file('cut-before-index.mp4'))).rejects.toMatchObject({
      code: 'MEDIA_UNREADABLE',
      message: expect.stringMatching(/incomplete/),
    });
  });

  it('an MP4 cut off among its frames reports only the frames that decode, flagged truncated', async () => {
    const info = await probeClip(file('cut-frames.mp4'));
    expect(info.truncated).toBe(true);
    expect(info.frameCount).toBeGreaterThan(5);
    expect(info.frameCount).toBeLessThan(48);
    const { width, height, frames } = await decodeSegment(file('cut-frames.mp4'), {
      startFrame: 0,
      frameCount: info.frameCount,
      frameRate: info.frameRate,
    });
    expect(frames.map((f) => readFrameIndex(f, width, height))).toEqual(frames.map((_, i) => i));
    const beyond = { startFrame: info.frameCount, frameCount: 1, frameRate: info.frameRate };
    await expect(decodeSegment(file('cut-frames.mp4'), beyond)).rejects.toMatchObject({ code: 'MEDIA_UNREADABLE' });
  });
});
