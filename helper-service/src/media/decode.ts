/**
 * Frame-accurate decoding of a segment into raw pixels.
 *
 * Addressing rule: segment frame k is the picture shown at time (startFrame + k) / frameRate after the
 * clip's first video frame. For constant-rate clips at their own rate that is exactly source frame
 * startFrame + k. For variable-frame-rate clips it is the source frame on screen at that grid time once
 * every source timestamp is rounded to the nearest grid time (ffmpeg's fps filter, round=near): a frame
 * holds across a gap, and of two frames rounding to one grid time the later one is shown.
 */
import path from 'node:path';
import { MediaError, ValidationError } from '../errors';
import type { Size } from '../regions';
import { runTool } from './ffmpeg';
import { fileUrl, readVideoLayout, type VideoLayout } from './probe';
import { formatRational, frameStartSec } from './rational';
import type { Rational, VideoFrames } from './types';

/** 64 frames of 4K RGB are 1.6 GB; ReAtCo edits windows of 16-24 frames. */
export const DEFAULT_MAX_DECODE_FRAMES = 64;

export interface DecodeOptions {
  readonly startFrame: number;
  readonly frameCount: number;
  /** The clip's constant (or nominal) rate, from probeClip. */
  readonly frameRate: Rational;
  /** Scale to this size; default: the clip's display size. */
  readonly size?: Size;
  /** Segments longer than this are refused before decoding (memory bound). */
  readonly maxFrames?: number;
  readonly signal?: AbortSignal;
}

export type RawPixelFormat = 'rgb24' | 'gray';

const BYTES_PER_PIXEL: Record<RawPixelFormat, number> = { rgb24: 3, gray: 1 };

function validate(options: DecodeOptions): void {
  const { startFrame, frameCount, size } = options;
  const maxFrames = options.maxFrames ?? DEFAULT_MAX_DECODE_FRAMES;
  if (!Number.isInteger(startFrame) || startFrame < 0 || !Number.isInteger(frameCount) || frameCount < 1) {
    throw new ValidationError('INVALID_SETTINGS', `Frames ${startFrame}+${frameCount} are not a valid segment.`);
  }
  if (frameCount > maxFrames) {
    throw new ValidationError(
      'CLIP_TOO_LONG',
      `The segment has ${frameCount} frames; at most ${maxFrames} can be edited at once. Select a shorter range.`,
      { frameCount, maxFrames },
    );
  }
  if (size && !(Number.isInteger(size.width) && Number.isInteger(size.height) && size.width > 0 && size.height > 0)) {
    throw new ValidationError('FRAME_SIZE_INVALID', `${size.width}x${size.height} is not a frame size.`);
  }
}

/** Collects a raw stream into whole frames as it arrives, copying each byte once. */
function frameCollector(frameBytes: number, frameCount: number) {
  const frames: Uint8Array[] = [];
  let filled = frameBytes;
  const accept = (chunk: Buffer) => {
    let offset = 0;
    while (offset < chunk.length) {
      if (filled === frameBytes) {
        if (frames.length === frameCount) return;
        frames.push(new Uint8Array(frameBytes));
        filled = 0;
      }
      const take = Math.min(frameBytes - filled, chunk.length - offset);
      frames[frames.length - 1]!.set(chunk.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
    }
  };
  const complete = () => (filled === frameBytes ? frames : frames.slice(0, -1));
  return { accept, complete };
}

/** Frames on the rate grid from `firstFrameSec`, scaled with the clip's own YUV matrix and range. */
function filterChain(layout: VideoLayout, size: Size, rate: Rational, firstFrameSec: number, pixelFormat: RawPixelFormat) {
  const range = layout.fullRange ? 'pc' : 'tv';
  const scaling = 'flags=bicubic+accurate_rnd+full_chroma_int';
  return [
    `fps=fps=${formatRational(rate)}:start_time=${firstFrameSec.toFixed(6)}:round=near:eof_action=pass`,
    `scale=${size.width}:${size.height}:${scaling}:in_color_matrix=${layout.colorMatrix}:in_range=${range}`,
    `format=${pixelFormat}`,
  ].join(',');
}

/**
 * Decodes frames [startFrame, startFrame + frameCount) as raw pixels of one format. Seeks to the
 * keyframe before the segment, then lets the fps filter pick frames on the rate grid, so the result
 * does not depend on where keyframes are.
 */
export async function decodeFrames(file: string, options: DecodeOptions, pixelFormat: RawPixelFormat): Promise<VideoFrames> {
  validate(options);
  const { startFrame, frameCount, frameRate, signal } = options;
  const layout = await readVideoLayout(file, signal);
  const size = options.size ?? layout.displaySize;

  // Timestamps below are relative to the file's first timestamp, as ffmpeg presents them after -ss.
  const wantedSec = layout.videoStartOffsetSec + frameStartSec(startFrame, frameRate);
  const seekSec = Math.max(0, wantedSec - frameStartSec(1, frameRate));
  const seek = seekSec > 0 ? ['-ss', seekSec.toFixed(6), '-noaccurate_seek'] : [];
  const frameBytes = size.width * size.height * BYTES_PER_PIXEL[pixelFormat];
  const collector = frameCollector(frameBytes, frameCount);
  const args = [
    ...['-v', 'error', '-nostdin', ...seek, '-i', fileUrl(file), '-map', `0:${layout.streamIndex}`],
    ...['-vf', filterChain(layout, size, frameRate, wantedSec - seekSec, pixelFormat)],
    ...['-frames:v', String(frameCount), '-vsync', 'passthrough', '-f', 'rawvideo', 'pipe:1'],
  ];
  const name = path.basename(file);
  const failure = { code: 'MEDIA_UNREADABLE' as const, message: `"${name}" could not be decoded.` };
  await runTool('ffmpeg', args, { failure, signal, onStdout: collector.accept });

  const frames = collector.complete();
  if (frames.length < frameCount) {
    const last = startFrame + frameCount - 1;
    throw new MediaError(
      'MEDIA_UNREADABLE',
      `Only ${frames.length} of frames ${startFrame}-${last} of "${name}" could be decoded: the clip ends or is damaged there.`,
      { decoded: frames.length, startFrame, frameCount },
    );
  }
  return { width: size.width, height: size.height, frames };
}

/** RGB24 frames of a segment, scaled to `size` (the working size) or at the clip's full display size. */
export function decodeSegment(file: string, options: DecodeOptions): Promise<VideoFrames> {
  return decodeFrames(file, options, 'rgb24');
}
