import type { Quality } from '../protocol/messages';

export interface QualityPreset {
  /** Working-size budget in pixels (both sides multiples of the model's frame multiple). */
  maxPixels: number;
  steps: number;
}

/** Working-size budgets and step counts around the model's native frame size (448x768 for SD-1.x). */
export function qualityPresets(frameSize: readonly [number, number] | undefined): Record<Quality, QualityPreset> {
  const [h, w] = frameSize ?? [448, 768];
  return {
    draft: { maxPixels: Math.round(h * w * 0.5), steps: 20 },
    standard: { maxPixels: h * w, steps: 50 },
    high: { maxPixels: Math.round(h * w * 1.5), steps: 50 },
  };
}
