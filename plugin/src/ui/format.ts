/** Times and progress in words for the panel. */
import type { JobStage } from '@reatco/helper-service/protocol';
import type { TimelineClip } from '../host/adapter';
import { formatTimecode, frameAtTicks, rateToFps, type FrameRate } from '../host/ticks';

export const STAGE_LABELS: Record<JobStage, string> = {
  prepare: 'Preparing',
  encode: 'Encoding frames',
  invert: 'Inverting the source',
  edit: 'Editing',
  decode: 'Decoding frames',
  composite: 'Compositing',
  write: 'Writing the result',
};

export function formatFps(rate: FrameRate): string {
  return `${Math.round(rateToFps(rate) * 1000) / 1000} fps`;
}

/** Sequence timecode of a sequence time. */
export function sequenceTimecode(ticks: bigint, clip: TimelineClip): string {
  return formatTimecode(frameAtTicks(ticks, clip.sequenceFrameRate), clip.sequenceFrameRate);
}

/** Source timecode (media start included) of a media frame. */
export function sourceTimecode(mediaFrame: number, clip: TimelineClip): string {
  return formatTimecode(frameAtTicks(clip.mediaStart, clip.frameRate) + mediaFrame, clip.frameRate);
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min ${seconds % 60} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
