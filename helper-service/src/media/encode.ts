/**
 * Writes finished frames as a video an editing host imports: ProRes 422 HQ in .mov by default,
 * H.264 in .mp4 (or .mov) when size matters, PNG-in-MOV when frames must come back bit-exact.
 *
 * The file is written under a temporary name in the destination folder and renamed only after ffmpeg
 * succeeded, so the final name never holds a half-written file; the temporary file is removed on
 * failure or cancel.
 *
 * Audio from the source segment: AAC is stream-copied (re-encoding would lose quality; its packets
 * are about 21 ms, under a frame). Anything else becomes PCM in .mov (lossless and cut to the sample;
 * 24-bit when the source has more than 16 bits) or AAC 320 kb/s in .mp4.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { MediaError, ReatcoError, ValidationError } from '../errors';
import { runTool } from './ffmpeg';
import { fileUrl } from './probe';
import { formatRational } from './rational';
import type { ColorMatrix, Rational } from './types';

export type VideoCodec = 'prores' | 'h264' | 'png';

export interface AudioSegment {
  readonly path: string;
  readonly startSec: number;
  readonly durationSec: number;
}

export interface EncodeOptions {
  /** RGB24 frames, width * height * 3 bytes each. */
  readonly frames: readonly Uint8Array[];
  readonly width: number;
  readonly height: number;
  readonly frameRate: Rational;
  readonly outPath: string;
  /** Default 'prores'. */
  readonly codec?: VideoCodec;
  /** YUV matrix for ProRes and H.264; default BT.709 from 720 lines up, else BT.601 (pass the clip's). */
  readonly colorMatrix?: ColorMatrix;
  readonly audioFrom?: AudioSegment;
  readonly signal?: AbortSignal;
}

const CONTAINERS: Record<VideoCodec, readonly string[]> = { prores: ['.mov'], h264: ['.mp4', '.m4v', '.mov'], png: ['.mov'] };

const VIDEO_ARGS: Record<VideoCodec, readonly string[]> = {
  prores: ['-c:v', 'prores_ks', '-profile:v', '3', '-vendor', 'apl0', '-pix_fmt', 'yuv422p10le'],
  h264: ['-c:v', 'libx264', '-preset', 'medium', '-crf', '14', '-pix_fmt', 'yuv420p'],
  png: ['-c:v', 'png', '-pix_fmt', 'rgb24'],
};

/** ffmpeg's names for the matrix, primaries and transfer tags of each colour standard. */
const COLOR_TAGS: Record<ColorMatrix, { matrix: string; tag: string }> = {
  bt709: { matrix: 'bt709', tag: 'bt709' },
  bt601: { matrix: 'bt601', tag: 'smpte170m' },
};

function checkOptions(options: EncodeOptions, codec: VideoCodec): void {
  const { frames, width, height, outPath } = options;
  const extension = path.extname(outPath).toLowerCase();
  if (!CONTAINERS[codec].includes(extension)) {
    throw new ValidationError(
      'INVALID_SETTINGS',
      `A ${codec} video must be saved as ${CONTAINERS[codec].join(' or ')}, not "${path.basename(outPath)}".`,
    );
  }
  if (codec !== 'png' && (width % 2 !== 0 || height % 2 !== 0)) {
    throw new ValidationError('FRAME_SIZE_INVALID', `${codec} needs an even frame size; ${width}x${height} is not.`);
  }
  const frameBytes = width * height * 3;
  if (frames.length === 0 || frames.some((f) => f.length !== frameBytes)) {
    throw new RangeError(`encodeVideo needs at least one frame of ${width}x${height} RGB24`);
  }
}

function colorArgs(codec: VideoCodec, matrix: ColorMatrix): string[] {
  if (codec === 'png') return [];
  const { matrix: name, tag } = COLOR_TAGS[matrix];
  const convert = `scale=out_color_matrix=${name}:out_range=tv:flags=accurate_rnd+full_chroma_int`;
  return ['-vf', convert, '-colorspace', tag, '-color_primaries', tag, '-color_trc', tag, '-color_range', 'tv'];
}

interface AudioFormat {
  readonly codec: string;
  readonly sampleFormat: string;
  readonly bits: number;
}

async function readAudioFormat(file: string, signal?: AbortSignal): Promise<AudioFormat | undefined> {
  const failure = { code: 'MEDIA_UNREADABLE' as const, message: `The audio of "${path.basename(file)}" cannot be read.` };
  const entries = 'stream=codec_name,sample_fmt,bits_per_raw_sample,bits_per_sample';
  const args = ['-v', 'error', '-select_streams', 'a:0', '-show_entries', entries, '-of', 'json', fileUrl(file)];
  const { stdout } = await runTool('ffprobe', args, { failure, signal });
  const stream = (JSON.parse(stdout.toString('utf8')) as { streams?: Record<string, string | number>[] }).streams?.[0];
  if (!stream) return undefined;
  const bits = Math.max(Number(stream['bits_per_raw_sample']) || 0, Number(stream['bits_per_sample']) || 0);
  return { codec: String(stream['codec_name']), sampleFormat: String(stream['sample_fmt']), bits };
}

function audioCodecArgs(format: AudioFormat, container: 'mov' | 'mp4'): string[] {
  if (format.codec === 'aac') return ['-c:a', 'copy'];
  if (container === 'mp4') return ['-c:a', 'aac', '-b:a', '320k'];
  const deep = format.bits > 16 || /^(s32|flt|dbl)/.test(format.sampleFormat);
  return ['-c:a', deep ? 'pcm_s24le' : 'pcm_s16le'];
}

async function audioArgs(segment: AudioSegment, container: 'mov' | 'mp4', signal?: AbortSignal): Promise<string[]> {
  const format = await readAudioFormat(segment.path, signal);
  if (!format) return [];
  const input = ['-ss', segment.startSec.toFixed(6), '-t', segment.durationSec.toFixed(6), '-i', fileUrl(segment.path)];
  return [...input, '-map', '0:v:0', '-map', '1:a:0', ...audioCodecArgs(format, container)];
}

function temporaryPathFor(outPath: string): string {
  const name = `.${path.basename(outPath)}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
  return path.join(path.dirname(outPath), name);
}

/** Encodes the frames to `outPath` (see the file comment for codecs and audio); resolves to `outPath`. */
export async function encodeVideo(options: EncodeOptions): Promise<string> {
  const codec = options.codec ?? 'prores';
  checkOptions(options, codec);
  const { frames, width, height, frameRate, outPath, audioFrom, signal } = options;
  const folder = path.dirname(path.resolve(outPath));
  if (!(await stat(folder).catch(() => undefined))?.isDirectory()) {
    throw new MediaError('OUTPUT_WRITE_FAILED', `The output folder "${folder}" does not exist.`);
  }
  const container = path.extname(outPath).toLowerCase() === '.mov' ? 'mov' : 'mp4';
  const colorMatrix = options.colorMatrix ?? (height >= 720 ? 'bt709' : 'bt601');
  const rawInput = ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-framerate', formatRational(frameRate)];
  const temporary = temporaryPathFor(outPath);
  const args = [
    ...['-v', 'error', '-y', ...rawInput, '-i', 'pipe:0'],
    ...(audioFrom ? await audioArgs(audioFrom, container, signal) : []),
    ...VIDEO_ARGS[codec],
    ...colorArgs(codec, colorMatrix),
    ...['-vsync', 'passthrough'],
    ...(container === 'mp4' ? ['-movflags', '+faststart'] : []),
    ...['-f', container, fileUrl(temporary)],
  ];
  const failure = { code: 'OUTPUT_WRITE_FAILED' as const, message: `"${path.basename(outPath)}" could not be written.` };
  try {
    await runTool('ffmpeg', args, { failure, signal, stdin: frames });
    await rename(temporary, outPath);
  } catch (error) {
    await rm(temporary, { force: true });
    throw toWriteError(error, outPath);
  }
  return outPath;
}

/** Errors from Node itself (rename, say) get the same codes as ffmpeg's. */
function toWriteError(error: unknown, outPath: string): unknown {
  if (error instanceof ReatcoError || !(error instanceof Error)) return error;
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
  const name = path.basename(outPath);
  if (code === 'ENOSPC') return new MediaError('DISK_FULL', `"${name}" could not be written: the disk is full.`);
  return new MediaError('OUTPUT_WRITE_FAILED', `"${name}" could not be written (${code}).`, { cause: String(error) });
}
