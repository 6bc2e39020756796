/**
 * Still images for people: preview frames the panel shows as <img> files, and a before/after picture
 * with the region boxes outlined (one colour per region) for the CLI demo.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../errors';
import type { BoxPx, Size } from '../regions';
import { runTool } from './ffmpeg';
import { fileUrl } from './probe';

type Rgb = readonly [number, number, number];

/** Distinct on footage: red, blue, green, amber, violet, cyan; repeats after six regions. */
const REGION_COLOURS: readonly Rgb[] = [
  [255, 59, 48],
  [10, 132, 255],
  [52, 199, 89],
  [255, 204, 0],
  [175, 82, 222],
  [90, 200, 250],
];

const GAP_PX = 8;
const GAP_COLOUR: Rgb = [32, 32, 32];

/** Writes RGB24 frames through ffmpeg's image writer; `pattern` may hold %04d for the frame number. */
async function writeImages(frames: readonly Uint8Array[], size: Size, pattern: string, signal?: AbortSignal): Promise<void> {
  const quality = /\.jpe?g$/i.test(pattern) ? ['-q:v', '3'] : [];
  const args = [
    ...['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${size.width}x${size.height}`, '-i', 'pipe:0'],
    ...quality,
    ...['-frames:v', String(frames.length), '-start_number', '0', '-f', 'image2', fileUrl(pattern)],
  ];
  const message = `Preview images could not be written to "${path.dirname(pattern).replaceAll('%%', '%')}".`;
  const failure = { code: 'OUTPUT_WRITE_FAILED' as const, message };
  await runTool('ffmpeg', args, { failure, signal, stdin: frames });
}

/** ffmpeg's image writer reads "%" as the start of a frame-number pattern. */
const escapePercent = (text: string) => text.replaceAll('%', '%%');

/** Writes frames as `<dir>/<prefix>-0000.jpg`, `-0001.jpg`, ... (the folder is created); returns the paths in order. */
export async function writePreviewFrames(
  frames: readonly Uint8Array[],
  size: Size,
  dir: string,
  prefix: string,
  signal?: AbortSignal,
): Promise<string[]> {
  if (!prefix || path.basename(prefix) !== prefix) {
    throw new ValidationError('INVALID_SETTINGS', `"${prefix}" cannot be a preview file name prefix.`);
  }
  await mkdir(dir, { recursive: true });
  await writeImages(frames, size, path.join(escapePercent(dir), `${escapePercent(prefix)}-%04d.jpg`), signal);
  return frames.map((_, i) => path.join(dir, `${prefix}-${String(i).padStart(4, '0')}.jpg`));
}

function fillRect(rgb: Uint8Array, width: number, rect: BoxPx, colour: Rgb): void {
  for (let y = rect[1]; y < rect[3]; y++) {
    for (let x = rect[0]; x < rect[2]; x++) rgb.set(colour, (y * width + x) * 3);
  }
}

/** Outlines `box` (clamped to the image) with lines `thickness` pixels wide, drawn inside the box. */
export function drawBoxOutline(rgb: Uint8Array, size: Size, box: BoxPx, colour: Rgb, thickness: number): void {
  const clampX = (v: number) => Math.min(Math.max(Math.round(v), 0), size.width);
  const clampY = (v: number) => Math.min(Math.max(Math.round(v), 0), size.height);
  const [x1, y1, x2, y2] = [clampX(box[0]), clampY(box[1]), clampX(box[2]), clampY(box[3])];
  const t = Math.max(1, Math.round(thickness));
  fillRect(rgb, size.width, [x1, y1, x2, Math.min(y1 + t, y2)], colour);
  fillRect(rgb, size.width, [x1, Math.max(y2 - t, y1), x2, y2], colour);
  fillRect(rgb, size.width, [x1, y1, Math.min(x1 + t, x2), y2], colour);
  fillRect(rgb, size.width, [Math.max(x2 - t, x1), y1, x2, y2], colour);
}

export interface SideBySideInput {
  /** RGB24 frames of `size`: the source and the edited result. */
  readonly before: Uint8Array;
  readonly after: Uint8Array;
  readonly size: Size;
  /** One box per region, in the frames' pixels. */
  readonly regions: readonly BoxPx[];
  /** .png or .jpg */
  readonly outPath: string;
  readonly signal?: AbortSignal;
}

/** Writes before | after as one image with every region outlined on both halves; resolves to outPath. */
export async function sideBySide(input: SideBySideInput): Promise<string> {
  const { before, after, size, regions, outPath, signal } = input;
  if (!/\.(png|jpe?g)$/i.test(outPath)) {
    throw new ValidationError('INVALID_SETTINGS', `A before/after image must be .png or .jpg, not "${path.basename(outPath)}".`);
  }
  const canvasSize = { width: size.width * 2 + GAP_PX, height: size.height };
  const canvas = new Uint8Array(canvasSize.width * canvasSize.height * 3);
  fillRect(canvas, canvasSize.width, [size.width, 0, size.width + GAP_PX, size.height], GAP_COLOUR);
  const thickness = Math.max(2, Math.round(Math.min(size.width, size.height) / 200));
  for (const [left, picture] of [[0, before], [size.width + GAP_PX, after]] as const) {
    for (let y = 0; y < size.height; y++) {
      const row = y * size.width * 3;
      canvas.set(picture.subarray(row, row + size.width * 3), (y * canvasSize.width + left) * 3);
    }
    regions.forEach((box, i) => {
      const inHalf = (x: number) => Math.min(Math.max(x + left, left), left + size.width);
      const shifted: BoxPx = [inHalf(box[0]), box[1], inHalf(box[2]), box[3]];
      drawBoxOutline(canvas, canvasSize, shifted, REGION_COLOURS[i % REGION_COLOURS.length]!, thickness);
    });
  }
  await mkdir(path.dirname(outPath), { recursive: true });
  await writeImages([canvas], canvasSize, escapePercent(outPath), signal);
  return outPath;
}
