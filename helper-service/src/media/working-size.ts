import { ValidationError } from '../errors';
import type { Size } from '../regions';

export interface WorkingSizeOptions {
  /** Both sides are multiples of this (64 for Stable Diffusion: 8 px latents, 8 latents an attention cell). */
  readonly multiple: number;
  /** Pixel budget of the model or quality preset. */
  readonly maxPixels: number;
  readonly maxSide?: number;
}

function aspectError(size: Size, aspect: number): number {
  return Math.abs(Math.log(size.width / size.height / aspect));
}

/**
 * The size the model works at: the clip's aspect scaled to fill the pixel budget (up or down), each
 * side rounded to the nearest multiple; while that is over budget, one side shrinks by one multiple,
 * whichever keeps the aspect closer. 1920x1080 with a 768*448 budget gives 768x448, as the reference.
 */
export function chooseWorkingSize(clip: Size, options: WorkingSizeOptions): Size {
  const { multiple: m, maxPixels } = options;
  const maxSide = options.maxSide ?? Infinity;
  if (!(clip.width > 0 && clip.height > 0 && Number.isInteger(m) && m > 0 && maxPixels >= m * m && maxSide >= m)) {
    throw new ValidationError(
      'FRAME_SIZE_INVALID',
      `No working size fits ${clip.width}x${clip.height} in multiples of ${m} within ${maxPixels} pixels.`,
      { clip, options },
    );
  }
  const aspect = clip.width / clip.height;
  const scale = Math.min(Math.sqrt(maxPixels / (clip.width * clip.height)), maxSide / Math.max(clip.width, clip.height));
  const sideCap = Math.floor(maxSide / m) * m;
  const toMultiple = (v: number) => Math.min(sideCap, Math.max(m, Math.round(v / m) * m));
  let size: Size = { width: toMultiple(clip.width * scale), height: toMultiple(clip.height * scale) };
  while (size.width * size.height > maxPixels) {
    const narrower = { width: size.width - m, height: size.height };
    const shorter = { width: size.width, height: size.height - m };
    const smaller = [narrower, shorter].filter((s) => s.width >= m && s.height >= m);
    size = smaller.sort((a, b) => aspectError(a, aspect) - aspectError(b, aspect))[0]!;
  }
  return size;
}
