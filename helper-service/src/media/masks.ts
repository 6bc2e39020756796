/**
 * Region tracks as per-frame masks: at clip size for the composite, at working size for the model,
 * and as latent or attention grids. Boxes go through the reference's own rasteriser (rasterizeBox),
 * so their cells round exactly as the reference's do; imported masks are area-averaged and cut at 50%.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { MediaError, ValidationError } from '../errors';
import {
  boxInsideFrame,
  downsampleMask,
  interpolateBox,
  rasterizeBox,
  scaleBox,
  type BoxKeyframe,
  type BoxPx,
  type Size,
} from '../regions';
import { decodeFrames } from './decode';
import { runTool } from './ffmpeg';
import { fileUrl, probeClip } from './probe';
import { areaResample } from './resize';

export type RegionTrackInput =
  /** Keyframed boxes in clip pixels; frame 0 is the segment's first frame. */
  | { readonly kind: 'boxes'; readonly keyframes: readonly BoxKeyframe[] }
  /** A folder of PNG mattes (white = inside), one per segment frame in name order, or one for all frames. */
  | { readonly kind: 'mask-sequence'; readonly dir: string }
  /** A matte video (white = inside); its frame `startFrame` (default 0) lines up with the segment's first frame. */
  | { readonly kind: 'matte-video'; readonly path: string; readonly startFrame?: number };

/** A region track made concrete for one segment, at clip resolution. */
export type LoadedRegionTrack =
  | { readonly kind: 'boxes'; readonly boxes: readonly BoxPx[] }
  | { readonly kind: 'masks'; readonly masks: readonly Uint8Array[] };

function boxesPerFrame(keyframes: readonly BoxKeyframe[], clipSize: Size, frameCount: number): BoxPx[] {
  if (keyframes.length === 0) throw new ValidationError('INVALID_SETTINGS', 'A box region needs at least one keyframe.');
  return Array.from({ length: frameCount }, (_, frame) => {
    const box = interpolateBox(keyframes, frame);
    const shown = `[${box.map((v) => Math.round(v)).join(', ')}]`;
    if (!(box[2] > box[0] && box[3] > box[1])) {
      throw new ValidationError('REGION_TOO_SMALL', `The region box ${shown} at frame ${frame} has no area.`, { frame, box });
    }
    if (!boxInsideFrame(box, clipSize)) {
      throw new ValidationError(
        'REGION_OUT_OF_FRAME',
        `The region box ${shown} at frame ${frame} reaches outside the ${clipSize.width}x${clipSize.height} frame.`,
        { frame, box, clipSize },
      );
    }
    return box;
  });
}

/**
 * A gray matte at its own size as a 0/1 mask at clip size: area-averaged to the clip size when it was
 * made at another scale of the same picture, then cut at 50%.
 */
function toClipMask(gray: Uint8Array, size: Size, clipSize: Size, source: string): Uint8Array {
  if (Math.abs(size.width / size.height / (clipSize.width / clipSize.height) - 1) > 0.01) {
    throw new ValidationError(
      'FRAME_SIZE_INVALID',
      `The matte "${source}" is ${size.width}x${size.height}, ` +
        `which is not the shape of the ${clipSize.width}x${clipSize.height} clip.`,
    );
  }
  const sameSize = size.width === clipSize.width && size.height === clipSize.height;
  const coverage = sameSize ? gray : areaResample(gray, size, clipSize);
  const mask = new Uint8Array(clipSize.width * clipSize.height);
  for (let i = 0; i < mask.length; i++) mask[i] = coverage[i]! >= 128 ? 1 : 0;
  return mask;
}

/** An image file as 8-bit gray at its own size; ffmpeg writes PGM, whose header carries the size. */
async function readGrayImage(file: string, signal?: AbortSignal): Promise<{ gray: Uint8Array; size: Size }> {
  const message = `The matte "${path.basename(file)}" cannot be read as an image.`;
  const failure = { code: 'MEDIA_UNREADABLE' as const, message };
  const args = ['-v', 'error', '-nostdin', '-i', fileUrl(file), '-frames:v', '1', '-pix_fmt', 'gray'];
  const { stdout } = await runTool('ffmpeg', [...args, '-c:v', 'pgm', '-f', 'image2pipe', 'pipe:1'], { failure, signal });
  const header = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(stdout.toString('latin1', 0, 64));
  if (!header) throw new MediaError('MEDIA_UNREADABLE', message);
  const size = { width: Number(header[1]), height: Number(header[2]) };
  return { gray: new Uint8Array(stdout.subarray(header[0].length, header[0].length + size.width * size.height)), size };
}

const byNaturalName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

async function loadMaskSequence(dir: string, clipSize: Size, frameCount: number, signal?: AbortSignal): Promise<Uint8Array[]> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new MediaError('FILE_NOT_FOUND', `The matte folder "${dir}" does not exist.`);
  const files = (await readdir(dir)).filter((name) => /\.png$/i.test(name)).sort(byNaturalName);
  if (files.length !== 1 && files.length !== frameCount) {
    throw new ValidationError(
      'INVALID_SETTINGS',
      `The matte folder "${path.basename(dir)}" holds ${files.length} PNG files; the segment has ${frameCount} frames ` +
        '(give one matte per frame, or one for all).',
      { dir, files: files.length, frameCount },
    );
  }
  const masks: Uint8Array[] = [];
  for (const name of files) {
    const { gray, size } = await readGrayImage(path.join(dir, name), signal);
    masks.push(toClipMask(gray, size, clipSize, name));
  }
  return files.length === 1 ? Array.from({ length: frameCount }, () => masks[0]!) : masks;
}

async function loadMatteVideo(file: string, startFrame: number, clipSize: Size, frameCount: number, signal?: AbortSignal) {
  const matte = await probeClip(file, signal);
  if (matte.frameCount < startFrame + frameCount) {
    throw new ValidationError(
      'INVALID_SETTINGS',
      `The matte video "${path.basename(file)}" has ${matte.frameCount} frames; ` +
        `frames ${startFrame}-${startFrame + frameCount - 1} are needed.`,
      { matteFrames: matte.frameCount, startFrame, frameCount },
    );
  }
  const decoded = await decodeFrames(file, { startFrame, frameCount, frameRate: matte.frameRate, signal }, 'gray');
  return decoded.frames.map((gray) => toClipMask(gray, decoded, clipSize, path.basename(file)));
}

/** Reads and checks a region track for a segment of `frameCount` frames of a clip of `clipSize`. */
export async function loadRegionTrack(
  track: RegionTrackInput,
  clipSize: Size,
  frameCount: number,
  signal?: AbortSignal,
): Promise<LoadedRegionTrack> {
  switch (track.kind) {
    case 'boxes':
      return { kind: 'boxes', boxes: boxesPerFrame(track.keyframes, clipSize, frameCount) };
    case 'mask-sequence':
      return { kind: 'masks', masks: await loadMaskSequence(track.dir, clipSize, frameCount, signal) };
    case 'matte-video':
      return { kind: 'masks', masks: await loadMatteVideo(track.path, track.startFrame ?? 0, clipSize, frameCount, signal) };
  }
}

/** Per-frame 0/1 masks at clip size (what the composite blends through). */
export function clipMasksOf(track: LoadedRegionTrack, clipSize: Size): Uint8Array[] {
  return track.kind === 'boxes' ? track.boxes.map((box) => rasterizeBox(box, clipSize, 1)) : [...track.masks];
}

function workingMask(mask: Uint8Array, clipSize: Size, workSize: Size): Uint8Array {
  const coverage = areaResample(mask, clipSize, workSize);
  return Uint8Array.from(coverage, (v) => (v >= 0.5 ? 1 : 0));
}

/** Boxes mapped to the working frame and rasterised on its grid of `cellPx` cells, as the reference does. */
function boxGrids(boxes: readonly BoxPx[], clipSize: Size, workSize: Size, cellPx: number): Uint8Array[] {
  const grid = { width: Math.floor(workSize.width / cellPx), height: Math.floor(workSize.height / cellPx) };
  return boxes.map((box) => rasterizeBox(scaleBox(box, clipSize, workSize), grid, cellPx));
}

/** Per-frame 0/1 masks at the working size (the decoded frames are the clip stretched to that size). */
export function regionMasksAt(track: LoadedRegionTrack, clipSize: Size, workSize: Size): Uint8Array[] {
  return track.kind === 'boxes'
    ? boxGrids(track.boxes, clipSize, workSize, 1)
    : track.masks.map((mask) => workingMask(mask, clipSize, workSize));
}

/**
 * Per-frame 0/1 grids of `cellPx`-pixel cells over the working frame: the latent grid with
 * cellPx = the VAE scale (8), the attention grid with cellPx = 32 for Stable Diffusion.
 */
export function regionGridsAt(track: LoadedRegionTrack, clipSize: Size, workSize: Size, cellPx: number): Uint8Array[] {
  return track.kind === 'boxes'
    ? boxGrids(track.boxes, clipSize, workSize, cellPx)
    : regionMasksAt(track, clipSize, workSize).map((mask) => downsampleMask(mask, workSize, cellPx));
}

/** Per frame, the union of several tracks' masks (all of one size). */
export function unionMasks(tracks: readonly (readonly Uint8Array[])[]): Uint8Array[] {
  const first = tracks[0] ?? [];
  return first.map((mask, frame) => {
    const union = new Uint8Array(mask.length);
    for (const track of tracks) {
      const other = track[frame]!;
      for (let i = 0; i < union.length; i++) union[i] = union[i]! | other[i]!;
    }
    return union;
  });
}
