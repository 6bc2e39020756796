import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CancelledError } from '../../src/errors';
import { decodeSegment } from '../../src/media/decode';
import { encodeVideo } from '../../src/media/encode';
import { probeClip } from '../../src/media/probe';
import { frameStartSec } from '../../src/media/rational';
import type { Rational, VideoFrames } from '../../src/media/types';
import { ffmpeg, ffprobeJson, haresClip, makeTempDir, psnr, writeHd2398WithAudio } from './fixtures';

const NTSC_FILM: Rational = { num: 24000, den: 1001 };
const NTSC_VIDEO: Rational = { num: 30000, den: 1001 };

let dir: string;
const file = (name: string) => path.join(dir, name);

beforeAll(async () => {
  dir = await makeTempDir('encode');
  await Promise.all([
    writeHd2398WithAudio(file('hd.mp4')),
    ffmpeg([
      ...['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30000/1001', '-f', 'lavfi', '-i', 'sine=sample_rate=48000'],
      ...['-frames:v', '30', '-t', '1.001', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'],
      ...['-c:a', 'pcm_s16le', file('pcm.mov')],
    ]),
  ]);
});

afterAll(() => rm(dir, { recursive: true, force: true }));

const noise = (width: number, height: number, count: number): VideoFrames => ({
  width,
  height,
  frames: Array.from({ length: count }, () => new Uint8Array(randomBytes(width * height * 3))),
});

async function audioDurationSec(clip: string): Promise<number> {
  const { streams } = await ffprobeJson(clip, 'stream=codec_type,duration');
  return Number(streams.find((s) => s['codec_type'] === 'audio')?.['duration']);
}

describe('encodeVideo round trips', () => {
  it('PNG in MOV gives back exactly the frames, at the exact rational rate', async () => {
    const input = noise(64, 48, 5);
    const out = await encodeVideo({ ...input, frameRate: NTSC_FILM, outPath: file('exact.mov'), codec: 'png' });
    const info = await probeClip(out);
    expect(info).toMatchObject({ width: 64, height: 48, frameCount: 5, frameRate: NTSC_FILM, videoCodec: 'png' });
    const decoded = await decodeSegment(out, { startFrame: 0, frameCount: 5, frameRate: info.frameRate });
    decoded.frames.forEach((frame, i) => expect(Buffer.from(frame).equals(input.frames[i]!)).toBe(true));
  });

  it('ProRes 422 HQ (the default): 10-bit 4:2:2 .mov, every frame, PSNR over 40 dB on real footage', async () => {
    const source = await decodeSegment(haresClip, { startFrame: 0, frameCount: 16, frameRate: { num: 10, den: 1 } });
    const out = await encodeVideo({ ...source, frameRate: NTSC_VIDEO, outPath: file('prores.mov') });
    const info = await probeClip(out);
    expect(info).toMatchObject({ width: 768, height: 448, frameCount: 16, frameRate: NTSC_VIDEO });
    expect(info).toMatchObject({ videoCodec: 'prores', pixelFormat: 'yuv422p10le', hasAudio: false });
    const { streams } = await ffprobeJson(out, 'stream=profile');
    expect(streams[0]?.['profile']).toBe('HQ');
    const decoded = await decodeSegment(out, { startFrame: 0, frameCount: 16, frameRate: info.frameRate });
    const worst = Math.min(...decoded.frames.map((frame, i) => psnr(frame, source.frames[i]!)));
    console.log(`ProRes round trip: worst frame PSNR ${worst.toFixed(1)} dB`);
    expect(worst).toBeGreaterThan(40);
  });

  it('H.264 .mp4 with the source’s AAC audio segment copied: same duration within a frame', async () => {
    const startFrame = 4;
    const frameCount = 16;
    const size = { width: 640, height: 360 };
    const source = await decodeSegment(file('hd.mp4'), { startFrame, frameCount, frameRate: NTSC_FILM, size });
    const audioFrom = {
      path: file('hd.mp4'),
      startSec: frameStartSec(startFrame, NTSC_FILM),
      durationSec: frameStartSec(frameCount, NTSC_FILM),
    };
    const out = await encodeVideo({ ...source, frameRate: NTSC_FILM, outPath: file('h264.mp4'), codec: 'h264', audioFrom });
    const info = await probeClip(out);
    expect(info).toMatchObject({ ...size, frameCount, frameRate: NTSC_FILM, videoCodec: 'h264', pixelFormat: 'yuv420p' });
    expect(info.audioCodec).toBe('aac');
    expect(Math.abs((await audioDurationSec(out)) - audioFrom.durationSec)).toBeLessThanOrEqual(frameStartSec(1, NTSC_FILM));
  });

  it('H.264 at high quality: PSNR over 40 dB on real footage', async () => {
    const source = await decodeSegment(haresClip, { startFrame: 0, frameCount: 16, frameRate: { num: 10, den: 1 } });
    const out = await encodeVideo({ ...source, frameRate: { num: 10, den: 1 }, outPath: file('hares.mp4'), codec: 'h264' });
    const decoded = await decodeSegment(out, { startFrame: 0, frameCount: 16, frameRate: { num: 10, den: 1 } });
    expect(Math.min(...decoded.frames.map((f, i) => psnr(f, source.frames[i]!)))).toBeGreaterThan(40);
  });

  it('ProRes .mov with PCM source audio: PCM, cut to the segment', async () => {
    const source = await decodeSegment(file('pcm.mov'), { startFrame: 6, frameCount: 12, frameRate: NTSC_VIDEO });
    const audioFrom = {
      path: file('pcm.mov'),
      startSec: frameStartSec(6, NTSC_VIDEO),
      durationSec: frameStartSec(12, NTSC_VIDEO),
    };
    const out = await encodeVideo({ ...source, frameRate: NTSC_VIDEO, outPath: file('with-pcm.mov'), audioFrom });
    const info = await probeClip(out);
    expect(info).toMatchObject({ frameCount: 12, frameRate: NTSC_VIDEO, audioCodec: 'pcm_s16le', audioSampleRate: 48000 });
    expect(Math.abs((await audioDurationSec(out)) - audioFrom.durationSec)).toBeLessThanOrEqual(frameStartSec(1, NTSC_VIDEO));
  });

  it('1080p 23.976 ProRes with AAC audio copied into the .mov', async () => {
    const source = await decodeSegment(file('hd.mp4'), { startFrame: 0, frameCount: 8, frameRate: NTSC_FILM });
    const audioFrom = { path: file('hd.mp4'), startSec: 0, durationSec: frameStartSec(8, NTSC_FILM) };
    const outPath = file('hd-prores.mov');
    const out = await encodeVideo({ ...source, frameRate: NTSC_FILM, outPath, audioFrom, colorMatrix: 'bt709' });
    const info = await probeClip(out);
    expect(info).toMatchObject({ width: 1920, height: 1080, frameCount: 8, frameRate: NTSC_FILM });
    expect(info).toMatchObject({ audioCodec: 'aac', colorMatrix: 'bt709' });
  });
});

describe('encodeVideo writes under a temporary name and renames only on success', () => {
  it('an aborted encode leaves no final file and no temporary file, and an older result untouched', async () => {
    const folder = await makeTempDir('abort');
    const outPath = path.join(folder, 'result.mov');
    await writeFile(outPath, 'the previous result');
    const controller = new AbortController();
    const big = noise(1920, 1080, 48);
    const run = encodeVideo({ ...big, frameRate: NTSC_FILM, outPath, signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(await readdir(folder)).toEqual(['result.mov']);
    expect(await readFile(outPath, 'utf8')).toBe('the previous result');
    await rm(folder, { recursive: true, force: true });
  });

  it('refuses bad settings before writing anything', async () => {
    const small = noise(64, 48, 2);
    const proresInMp4 = { ...small, frameRate: NTSC_FILM, outPath: file('wrong.mp4'), codec: 'prores' as const };
    await expect(encodeVideo(proresInMp4)).rejects.toMatchObject({ code: 'INVALID_SETTINGS' });
    const odd = noise(63, 48, 1);
    await expect(encodeVideo({ ...odd, frameRate: NTSC_FILM, outPath: file('odd.mp4'), codec: 'h264' })).rejects.toMatchObject({
      code: 'FRAME_SIZE_INVALID',
    });
    await expect(encodeVideo({ ...small, frameRate: NTSC_FILM, outPath: file('missing/folder/out.mov') })).rejects.toMatchObject({
      code: 'OUTPUT_WRITE_FAILED',
    });
  });
});

/**
 * A real full disk: a 1 MiB tmpfs. Mounting needs root and a kernel that allows it (this machine and
 * CI run as root, but a container may still refuse); when it is refused the test is skipped and the
 * reason logged. ffmpeg's ENOSPC mapping is also covered without a mount by the /dev/full test.
 */
const tinyDisk = mkdtempSync(path.join(os.tmpdir(), 'reatco-media-full-'));
const tinyDiskMounted = (() => {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tinyDisk], { stdio: 'pipe' });
    return true;
  } catch (error) {
    console.log(`SKIPPED disk-full encode test: cannot mount a 1 MiB tmpfs here (${String(error).split('\n')[0]})`);
    return false;
  }
})();

afterAll(() => {
  if (tinyDiskMounted) execFileSync('umount', [tinyDisk]);
  rmSync(tinyDisk, { recursive: true, force: true });
});

(tinyDiskMounted ? it : it.skip)('a full disk is DISK_FULL, with no final file and no temporary file left', async () => {
  const outPath = path.join(tinyDisk, 'result.mov');
  const big = noise(640, 480, 12); // about 10 MB of ProRes
  await expect(encodeVideo({ ...big, frameRate: NTSC_FILM, outPath })).rejects.toMatchObject({
    code: 'DISK_FULL',
    message: expect.stringMatching(/disk is full/),
  });
  expect(await readdir(tinyDisk)).toEqual([]);
});
