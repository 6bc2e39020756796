/**
 * Region tracks: where each object must appear, frame by frame. Host-free (the plugin bundles this
 * module): boxes are [x1, y1, x2, y2] in pixels, x2 and y2 exclusive like the reference's slices.
 */
export type BoxPx = readonly [x1: number, y1: number, x2: number, y2: number];

export interface Size {
  readonly width: number;
  readonly height: number;
}

/** A box fixed at one frame of the segment (frame 0 = the segment's first frame). */
export interface BoxKeyframe {
  readonly frame: number;
  readonly box: BoxPx;
}

/** Box positions between keyframes are linear; before the first and after the last they hold. */
export function interpolateBox(keyframes: readonly BoxKeyframe[], frame: number): BoxPx {
  if (keyframes.length === 0) throw new RangeError('a box track needs at least one keyframe');
  const sorted = [...keyframes].sort((a, b) => a.frame - b.frame);
  const first = sorted[0]!;
  const last = sorted[sorted.length - 1]!;
  if (frame <= first.frame) return first.box;
  if (frame >= last.frame) return last.box;
  let i = 1;
  while (sorted[i]!.frame < frame) i++;
  const a = sorted[i - 1]!;
  const b = sorted[i]!;
  const t = (frame - a.frame) / (b.frame - a.frame);
  const lerp = (k: number) => a.box[k]! + (b.box[k]! - a.box[k]!) * t;
  return [lerp(0), lerp(1), lerp(2), lerp(3)];
}

/** Maps a box between two pixel spaces of the same picture (clip size to working size, say). */
export function scaleBox(box: BoxPx, from: Size, to: Size): BoxPx {
  const x = (v: number) => (v * to.width) / from.width;
  const y = (v: number) => (v * to.height) / from.height;
  return [x(box[0]), y(box[1]), x(box[2]), y(box[3])];
}

/** True when the box has positive area and lies inside the frame (edges may touch the border). */
export function boxInsideFrame(box: BoxPx, frame: Size): boolean {
  const [x1, y1, x2, y2] = box;
  return x1 >= 0 && y1 >= 0 && x2 <= frame.width && y2 <= frame.height && x2 > x1 && y2 > y1;
}
