/**
 * Region boxes are drawn on the displayed preview (CSS pixels of the <img>) but stored and sent in the
 * clip's own pixels (the probe's width/height). Pure functions; boxes are [x1, y1, x2, y2], x2/y2
 * exclusive, as in @reatco/helper-service/regions.
 */
import { boxInsideFrame, scaleBox, type BoxPx, type Size } from '@reatco/helper-service/regions';

export interface Point {
  readonly x: number;
  readonly y: number;
}

export type Handle = 'nw' | 'ne' | 'sw' | 'se';

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

/** A pointer position on the displayed frame in clip pixels, kept inside the frame. */
export function displayPointToClip(point: Point, display: Size, clip: Size): Point {
  return {
    x: clamp((point.x * clip.width) / display.width, 0, clip.width),
    y: clamp((point.y * clip.height) / display.height, 0, clip.height),
  };
}

/** The box spanned by two corners, whichever way the drag went. */
export function boxFromCorners(a: Point, b: Point): BoxPx {
  return [Math.min(a.x, b.x), Math.min(a.y, b.y), Math.max(a.x, b.x), Math.max(a.y, b.y)];
}

/** Whole clip pixels, inside the frame; the job carries integers so the helper's rounding is the only one. */
export function roundBoxToFrame(box: BoxPx, frame: Size): BoxPx {
  const x1 = clamp(Math.round(box[0]), 0, frame.width);
  const y1 = clamp(Math.round(box[1]), 0, frame.height);
  const x2 = clamp(Math.round(box[2]), 0, frame.width);
  const y2 = clamp(Math.round(box[3]), 0, frame.height);
  return [x1, y1, x2, y2];
}

/** A box drawn on the display, in whole clip pixels. */
export function displayBoxToClip(box: BoxPx, display: Size, clip: Size): BoxPx {
  return roundBoxToFrame(scaleBox(box, display, clip), clip);
}

export function clipBoxToDisplay(box: BoxPx, clip: Size, display: Size): BoxPx {
  return scaleBox(box, clip, display);
}

/** CSS position of a clip-pixel box over an element of any size showing the whole frame. */
export function clipBoxToPercent(box: BoxPx, clip: Size): { left: string; top: string; width: string; height: string } {
  const pct = (v: number, of: number) => `${((v / of) * 100).toFixed(4)}%`;
  return {
    left: pct(box[0], clip.width),
    top: pct(box[1], clip.height),
    width: pct(box[2] - box[0], clip.width),
    height: pct(box[3] - box[1], clip.height),
  };
}

/** Moves a box by (dx, dy), keeping its size and keeping it inside the frame. */
export function moveBox(box: BoxPx, dx: number, dy: number, frame: Size): BoxPx {
  const width = box[2] - box[0];
  const height = box[3] - box[1];
  const x1 = clamp(box[0] + dx, 0, frame.width - width);
  const y1 = clamp(box[1] + dy, 0, frame.height - height);
  return [x1, y1, x1 + width, y1 + height];
}

/** Drags one corner to `to`; the opposite corner stays, and the box keeps at least `minSize` pixels a side. */
export function resizeBox(box: BoxPx, handle: Handle, to: Point, frame: Size, minSize = 1): BoxPx {
  const x = clamp(to.x, 0, frame.width);
  const y = clamp(to.y, 0, frame.height);
  let [x1, y1, x2, y2] = box;
  if (handle === 'nw' || handle === 'sw') x1 = Math.min(x, x2 - minSize);
  else x2 = Math.max(x, x1 + minSize);
  if (handle === 'nw' || handle === 'ne') y1 = Math.min(y, y2 - minSize);
  else y2 = Math.max(y, y1 + minSize);
  return [x1, y1, x2, y2];
}

/** True for a box the helper will accept as a region of this frame. */
export function isUsableBox(box: BoxPx, frame: Size, minSize = 1): boolean {
  return boxInsideFrame(box, frame) && box[2] - box[0] >= minSize && box[3] - box[1] >= minSize;
}
