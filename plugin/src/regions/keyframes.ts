/**
 * A region's box track as the panel edits it: keyframes at segment frames (0 = the segment's first
 * frame), linear in between through the shared `interpolateBox`, held before the first and after the
 * last. Immutable: every edit returns a new sorted list.
 */
import { interpolateBox, type BoxKeyframe, type BoxPx } from '@reatco/helper-service/regions';

export type { BoxKeyframe, BoxPx };

/** Sets the box at `frame`, replacing a keyframe already there. */
export function setKeyframe(keyframes: readonly BoxKeyframe[], frame: number, box: BoxPx): BoxKeyframe[] {
  return [...keyframes.filter((k) => k.frame !== frame), { frame, box }].sort((a, b) => a.frame - b.frame);
}

export function deleteKeyframe(keyframes: readonly BoxKeyframe[], frame: number): BoxKeyframe[] {
  return keyframes.filter((k) => k.frame !== frame);
}

export function hasKeyframeAt(keyframes: readonly BoxKeyframe[], frame: number): boolean {
  return keyframes.some((k) => k.frame === frame);
}

/** The box shown at `frame`, or null for a track without keyframes. */
export function boxAt(keyframes: readonly BoxKeyframe[], frame: number): BoxPx | null {
  return keyframes.length === 0 ? null : interpolateBox(keyframes, frame);
}
