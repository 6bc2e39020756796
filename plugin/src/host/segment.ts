/**
 * Which frames of the media a timeline clip shows: the job's segment, in the media's own frames
 * (frame 0 = the file's first frame; the media start timecode is already off the in point).
 */
import type { TimelineClip } from './adapter';
import { frameAtTicks, framesCovering } from './ticks';

export interface Segment {
  readonly startFrame: number;
  readonly frameCount: number;
}

/** The frames that show while the clip plays: from the one at the in point to the last one before the out point. */
export function segmentOf(clip: Pick<TimelineClip, 'sourceIn' | 'sourceOut' | 'frameRate'>): Segment {
  const startFrame = frameAtTicks(clip.sourceIn, clip.frameRate);
  const endFrame = framesCovering(clip.sourceOut, clip.frameRate);
  return { startFrame, frameCount: Math.max(0, endFrame - startFrame) };
}
