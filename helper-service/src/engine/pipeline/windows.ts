/**
 * The reference's sliding windows (get_views): `size` frames every `stride` frames, each step averaged
 * over the windows that cover a frame; plus a last window ending at the last frame when the stride
 * would leave frames uncovered (the reference would divide by zero there).
 */
export function frameWindows(frames: number, size: number | null, stride: number): [number, number][] {
  if (size === null || size >= frames) return [[0, frames]];
  const views: [number, number][] = [];
  for (let start = 0; start + size <= frames; start += stride) views.push([start, start + size]);
  if (views[views.length - 1]![1] < frames) views.push([frames - size, frames]);
  return views;
}

/** How many windows cover each frame. */
export function coverage(frames: number, windows: readonly [number, number][]): Uint16Array {
  const counts = new Uint16Array(frames);
  for (const [a, b] of windows) for (let f = a; f < b; f++) counts[f]!++;
  return counts;
}
