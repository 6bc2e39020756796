/**
 * Test footage made on the fly with the same ffmpeg the helper uses: clips whose frames carry their
 * own index (to prove frame accuracy), editor-like variants of the sample clips, and broken files.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runTool } from '../../src/media/ffmpeg';

/** Tests run from helper-service/dist/tests/media. */
export const repoRoot = path.resolve(__dirname, '../../../..');
export const sharedMedia = path.resolve(repoRoot, '../shared/media');
export const haresClip = path.join(sharedMedia, 'hares-grazing.mp4');
export const birdsClip = path.join(sharedMedia, 'birds-standing.mp4');

export function makeTempDir(label: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `reatco-media-${label}-`));
}

/** Runs ffmpeg (-v error -y prepended); resolves to stdout. */
export async function ffmpeg(args: readonly string[], stdin?: Iterable<Uint8Array>): Promise<Buffer> {
  const failure = { code: 'INTERNAL' as const, message: `test ffmpeg ${args.join(' ')} failed` };
  const { stdout } = await runTool('ffmpeg', ['-v', 'error', '-y', '-nostdin', ...args], { failure, stdin });
  return stdout;
}

export async function ffprobeJson(file: string, entries: string): Promise<{ streams: Record<string, string | number>[] }> {
  const failure = { code: 'INTERNAL' as const, message: `test ffprobe ${file} failed` };
  const args = ['-v', 'error', '-show_entries', entries, '-of', 'json', file];
  const { stdout } = await runTool('ffprobe', args, { failure });
  return JSON.parse(stdout.toString('utf8')) as { streams: Record<string, string | number>[] };
}

const BITS = 8;

/**
 * A frame carrying `index` (0-255) as eight blocks across the top half, white for a 1 bit and black
 * for a 0, which survive compression and scaling; the bottom half is a colour that changes per frame.
 */
export function indexedFrame(index: number, width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  const blockWidth = width / BITS;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (y >= height / 2) {
        rgb[o] = (index * 37) % 256;
        rgb[o + 1] = (index * 91) % 256;
        rgb[o + 2] = 128;
        continue;
      }
      const bit = Math.floor(x / blockWidth);
      const inBlock = x - bit * blockWidth > blockWidth / 8 && x - bit * blockWidth < (blockWidth * 7) / 8;
      const inBand = y > height / 16 && y < (height * 7) / 16;
      if (inBlock && inBand && (index >> bit) & 1) rgb.fill(255, o, o + 3);
    }
  }
  return rgb;
}

/** Reads back the index written by indexedFrame, at any size. */
export function readFrameIndex(rgb: Uint8Array, width: number, height: number): number {
  let index = 0;
  const blockWidth = width / BITS;
  for (let bit = 0; bit < BITS; bit++) {
    let sum = 0;
    let n = 0;
    const left = Math.round(bit * blockWidth + (blockWidth * 3) / 8);
    const right = Math.round(bit * blockWidth + (blockWidth * 5) / 8);
    for (let y = Math.round((height * 3) / 16); y < Math.round((height * 5) / 16); y++) {
      for (let x = left; x < right; x++) {
        sum += rgb[(y * width + x) * 3 + 1]!;
        n++;
      }
    }
    if (sum / n > 128) index |= 1 << bit;
  }
  return index;
}

export interface IndexedClipOptions {
  readonly count: number;
  readonly rate: string;
  readonly width: number;
  readonly height: number;
  /** Extra output options, e.g. a GOP size or VFR timestamps. */
  readonly outputArgs?: readonly string[];
}

/** An H.264 clip of `count` frames, frame i showing index i; B-frames and short GOPs make seeking non-trivial. */
export async function writeIndexedClip(file: string, options: IndexedClipOptions): Promise<void> {
  const { count, rate, width, height, outputArgs = [] } = options;
  const frames = Array.from({ length: count }, (_, i) => indexedFrame(i, width, height));
  const input = ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-framerate', rate, '-i', 'pipe:0'];
  const output = ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-g', '12', '-bf', '3', '-pix_fmt', 'yuv420p'];
  await ffmpeg([...input, ...output, ...outputArgs, file], frames);
}

/** 1080p at 23.976 fps with a stereo AAC track: what an editor's camera footage looks like. */
export async function writeHd2398WithAudio(file: string, frames = 24): Promise<void> {
  await ffmpeg([
    ...['-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=24000/1001`],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
    ...['-frames:v', String(frames), '-t', String((frames * 1001) / 24000), '-ac', '2'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', file],
  ]);
}

/** PSNR in dB between two RGB24 buffers. */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  let squared = 0;
  for (let i = 0; i < a.length; i++) squared += (a[i]! - b[i]!) ** 2;
  return squared === 0 ? Infinity : 10 * Math.log10((255 * 255) / (squared / a.length));
}

/**
 * The variable-frame-rate test clip: nominally 30 fps, odd frames 0.3 frame late, frames 10 and 11
 * missing. Matroska keeps every timestamp as written (ffmpeg 4.1's MP4 edit list would hide the last).
 */
export const VFR_DESIGN = {
  count: 41,
  dropped: [10, 11],
  timeOf: (index: number) => (index + 0.3 * (index % 2)) / 30,
};

export async function writeVfrIndexedClip(file: string, width = 256, height = 128): Promise<void> {
  const [first, last] = VFR_DESIGN.dropped;
  await writeIndexedClip(file, {
    count: VFR_DESIGN.count,
    rate: '30',
    width,
    height,
    // Millisecond timestamps (settb, -r 1000) so the jitter survives; -vsync vfr keeps them as they are.
    outputArgs: [
      ...['-vf', `settb=1/1000,setpts=(N+0.3*mod(N\\,2))/(30*TB),select=not(between(n\\,${first}\\,${last}))`],
      ...['-vsync', 'vfr', '-r', '1000'],
    ],
  });
}
