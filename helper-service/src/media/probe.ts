/**
 * What a clip is: size, exact frame rate, frame count, audio, timecode. Two ffprobe runs: the stream
 * headers, then one pass over the video packets (demuxing only, no decoding) to count frames and to
 * see whether their timestamps are evenly spaced.
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { MediaError } from '../errors';
import type { Size } from '../regions';
import { runTool } from './ffmpeg';
import { frameStartSec, nominalFrameRate, parseRational, rationalToNumber } from './rational';
import type { ColorMatrix, Rational } from './types';

export interface ClipInfo {
  readonly path: string;
  /** frameCount / fps: the span decodeSegment can address. */
  readonly durationSec: number;
  /** Exact, e.g. 24000/1001. For variable-frame-rate clips, the nominal rate frames are sampled at. */
  readonly frameRate: Rational;
  readonly fps: number;
  /** Frames on the frameRate grid from the first to the last decodable frame. */
  readonly frameCount: number;
  /** Display size: rotation metadata and non-square pixels applied. */
  readonly width: number;
  readonly height: number;
  readonly videoCodec: string;
  readonly pixelFormat: string;
  readonly colorMatrix: ColorMatrix;
  /** Full-range (0-255) YUV, as phones write; editing footage is usually limited range. */
  readonly fullRange: boolean;
  readonly hasAudio: boolean;
  readonly audioCodec?: string;
  readonly audioSampleRate?: number;
  readonly audioChannels?: number;
  /** Timestamps not evenly spaced (phone and screen recordings); frames are then sampled at frameRate. */
  readonly variableFrameRate: boolean;
  /** Source timecode of the first frame, e.g. "01:00:00:00", when the file carries one. */
  readonly timecodeStart?: string;
  /** The file ends early: frameCount counts only the frames before the cut. */
  readonly truncated: boolean;
}

interface FfprobeStream {
  index?: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  sample_aspect_ratio?: string;
  r_frame_rate?: string;
  time_base?: string;
  start_time?: string;
  nb_frames?: string;
  color_space?: string;
  color_range?: string;
  sample_rate?: string;
  channels?: number;
  tags?: Record<string, string>;
  disposition?: { attached_pic?: number };
  side_data_list?: { rotation?: number }[];
}

interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { format_name?: string; start_time?: string; tags?: Record<string, string> };
}

/** The header facts decoding needs; cheap (no packet pass). */
export interface VideoLayout {
  /** ffmpeg's stream specifier for the picture stream (cover art and the like skipped). */
  readonly streamIndex: number;
  readonly displaySize: Size;
  /** Seconds from the file's first timestamp (any stream) to the first video frame. */
  readonly videoStartOffsetSec: number;
  readonly colorMatrix: ColorMatrix;
  readonly fullRange: boolean;
}

interface Headers {
  readonly video: FfprobeStream;
  readonly audio: FfprobeStream | undefined;
  readonly timecode: string | undefined;
  readonly layout: VideoLayout;
}

/** ffmpeg reads "file:" URLs verbatim, so a name starting with "-" or holding ":" is never taken for an option or protocol. */
export function fileUrl(file: string): string {
  return `file:${path.resolve(file)}`;
}

function unreadable(file: string, reason: string, details?: Record<string, unknown>): MediaError {
  return new MediaError('MEDIA_UNREADABLE', `"${path.basename(file)}" cannot be used as a video: ${reason}`, details);
}

async function requireFile(file: string): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (!info) throw new MediaError('FILE_NOT_FOUND', `"${file}" does not exist.`);
  if (!info.isFile()) throw unreadable(file, 'it is a folder, not a file.');
}

/** MP4 and MOV files begin with a box such as "ftyp"; a text file renamed .mp4 does not. */
async function looksLikeQuickTime(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(8), 0, 8, 0);
    return bytesRead === 8 && ['ftyp', 'wide', 'free', 'mdat', 'moov'].includes(buffer.toString('latin1', 4, 8));
  } finally {
    await handle.close();
  }
}

async function runProbe(file: string, args: readonly string[], signal?: AbortSignal) {
  const failure = { code: 'MEDIA_UNREADABLE' as const, message: `"${path.basename(file)}" cannot be read as a video.` };
  try {
    return await runTool('ffprobe', ['-v', 'error', ...args, fileUrl(file)], { failure, signal });
  } catch (error) {
    const missingIndex = error instanceof MediaError && /moov atom not found/.test(String(error.details?.stderrTail));
    if (!missingIndex) throw error;
    const reason = (await looksLikeQuickTime(file))
      ? 'the file is incomplete (its index is missing), probably cut off while being copied or recorded.'
      : 'it is not a video file.';
    throw unreadable(file, reason, error.details);
  }
}

function colorOf(video: FfprobeStream, height: number): { colorMatrix: ColorMatrix; fullRange: boolean } {
  const tagged = video.color_space;
  const colorMatrix: ColorMatrix =
    tagged === 'bt709' ? 'bt709' : tagged === 'smpte170m' || tagged === 'bt470bg' ? 'bt601' : height >= 720 ? 'bt709' : 'bt601';
  const fullRange = video.color_range === 'pc' || (video.pix_fmt ?? '').startsWith('yuvj');
  return { colorMatrix, fullRange };
}

/** Rotation in degrees from the display matrix (newer ffprobe) or the "rotate" tag (older). */
function rotationOf(video: FfprobeStream): number {
  const fromMatrix = video.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  return fromMatrix ?? Number(video.tags?.rotate ?? 0);
}

function displaySizeOf(video: FfprobeStream): Size {
  const sar = parseRational(video.sample_aspect_ratio?.replace(':', '/'));
  const stored = { width: video.width ?? 0, height: video.height ?? 0 };
  const width = sar && sar.num !== sar.den ? Math.round((stored.width * sar.num) / sar.den) : stored.width;
  const quarterTurn = Math.abs(Math.round(rotationOf(video) / 90)) % 2 === 1;
  return quarterTurn ? { width: stored.height, height: width } : { width, height: stored.height };
}

const STILL_IMAGE_FORMAT = /(^|,)image2$|_pipe$/;

async function readHeaders(file: string, signal?: AbortSignal): Promise<Headers> {
  await requireFile(file);
  const { stdout } = await runProbe(file, ['-print_format', 'json', '-show_format', '-show_streams'], signal);
  const parsed = JSON.parse(stdout.toString('utf8')) as FfprobeOutput;
  const streams = parsed.streams ?? [];
  const format = parsed.format ?? {};
  const video = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  if (!video || !video.width || !video.height) throw unreadable(file, 'it has no video picture.');
  if (STILL_IMAGE_FORMAT.test(format.format_name ?? '')) throw unreadable(file, 'it is a still image, not a clip.');
  const displaySize = displaySizeOf(video);
  const videoStartOffsetSec = Math.max(0, Number(video.start_time ?? 0) - Number(format.start_time ?? 0)) || 0;
  const audio = streams.find((s) => s.codec_type === 'audio');
  // QuickTime keeps timecode in its own track; MP4 and MXF in the container or video tags.
  const timecode = [format.tags, ...streams.map((s) => s.tags)].map((tags) => tags?.['timecode']).find(Boolean);
  const layout = { streamIndex: video.index ?? 0, displaySize, videoStartOffsetSec, ...colorOf(video, displaySize.height) };
  return { video, audio, timecode, layout };
}

/** The header facts decodeSegment needs, without the packet pass. */
export async function readVideoLayout(file: string, signal?: AbortSignal): Promise<VideoLayout> {
  return (await readHeaders(file, signal)).layout;
}

interface PacketTimeline {
  /** Presentation timestamps of the decodable frames, ascending, in stream time-base ticks. */
  readonly pts: number[];
  readonly truncated: boolean;
}

/** ffprobe flags packets K (key), D (discard: outside an edit list) and, in newer builds, C (corrupt). */
async function readPacketTimeline(file: string, video: FfprobeStream, signal?: AbortSignal): Promise<PacketTimeline> {
  const args = ['-select_streams', String(video.index ?? 0), '-show_entries', 'packet=pts,dts,flags', '-of', 'compact=p=0'];
  const { stdout, stderrTail } = await runProbe(file, args, signal);
  const pts: number[] = [];
  let whole = 0;
  let corrupt = false;
  for (const line of stdout.toString('utf8').split('\n')) {
    if (!line) continue;
    const fields = Object.fromEntries(line.split('|').map((kv) => kv.split('=') as [string, string]));
    const flags = fields['flags'] ?? '';
    if (flags.includes('C')) corrupt = true;
    else whole++;
    if (flags.includes('D') || flags.includes('C')) continue;
    const t = Number(fields['pts'] !== 'N/A' ? fields['pts'] : fields['dts']);
    if (Number.isFinite(t)) pts.push(t);
  }
  const truncated = corrupt || /partial file|truncat/i.test(stderrTail) || whole < Number(video.nb_frames);
  pts.sort((a, b) => a - b);
  return { pts: truncated ? contiguousPrefix(pts) : pts, truncated };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function intervalsOf(pts: readonly number[]): number[] {
  return pts.slice(1).map((t, i) => t - pts[i]!);
}

/**
 * A cut file lost the packets after the cut in decode order; with B-frames that leaves holes just
 * before the last frames read. Only frames up to the first hole can be shown.
 */
function contiguousPrefix(pts: number[]): number[] {
  const typical = median(intervalsOf(pts));
  const hole = intervalsOf(pts).findIndex((d) => d > typical * 1.5);
  return hole < 0 ? pts : pts.slice(0, hole + 1);
}

/** Mean frame interval, where a gap counts as the number of frames that would fit in it (dropped frames). */
function typicalInterval(pts: readonly number[]): number {
  const intervals = intervalsOf(pts);
  const span = pts[pts.length - 1]! - pts[0]!;
  const slots = intervals.reduce((sum, d) => sum + Math.max(1, Math.round(d / (span / intervals.length))), 0);
  return span / slots;
}

/** Evenly spaced within 2 ticks (rounding to the time base) or 1% of a frame. */
function isVariableRate(pts: readonly number[]): boolean {
  const intervals = intervalsOf(pts);
  const typical = median(intervals);
  const tolerance = Math.max(2, typical * 0.01);
  return intervals.some((d) => Math.abs(d - typical) > tolerance);
}

/** Size, exact rate, frame count, audio and timecode of a clip; coded errors for missing or unreadable files. */
export async function probeClip(file: string, signal?: AbortSignal): Promise<ClipInfo> {
  const { video, audio, timecode, layout } = await readHeaders(file, signal);
  const timeline = await readPacketTimeline(file, video, signal);
  const { pts } = timeline;
  if (pts.length === 0) throw unreadable(file, 'none of its frames can be read.');

  const tickSec = rationalToNumber(parseRational(video.time_base) ?? { num: 1, den: 1 });
  const spanSec = (pts[pts.length - 1]! - pts[0]!) * tickSec;
  const ffmpegGuess = parseRational(video.r_frame_rate);
  const measuredFps = spanSec > 0 ? 1 / (typicalInterval(pts) * tickSec) : undefined;
  const frameRate = measuredFps ? nominalFrameRate(measuredFps, ffmpegGuess) : ffmpegGuess;
  if (!frameRate) throw unreadable(file, 'its frame rate cannot be determined.');
  const fps = rationalToNumber(frameRate);
  const frameCount = Math.round(spanSec * fps) + 1;

  return {
    path: file,
    durationSec: frameStartSec(frameCount, frameRate),
    frameRate,
    fps,
    frameCount,
    width: layout.displaySize.width,
    height: layout.displaySize.height,
    videoCodec: video.codec_name ?? 'unknown',
    pixelFormat: video.pix_fmt ?? 'unknown',
    colorMatrix: layout.colorMatrix,
    fullRange: layout.fullRange,
    hasAudio: audio !== undefined,
    ...(audio && {
      audioCodec: audio.codec_name ?? 'unknown',
      audioSampleRate: Number(audio.sample_rate),
      audioChannels: audio.channels,
    }),
    variableFrameRate: isVariableRate(pts),
    ...(timecode && { timecodeStart: timecode }),
    truncated: timeline.truncated,
  };
}
