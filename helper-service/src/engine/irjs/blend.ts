import type { DDIMScheduler } from '../scheduler/ddim';
import type { Latent } from '../tensor/latent';

/**
 * IRJS (Invariant Region-guided Joint Sampling): outside the union of the object regions, the latent
 * is replaced by the forward-noised source, √ᾱ_t z0 + √(1−ᾱ_t) ε, before the UNet sees it.
 * `mask` is (frames, h, w) with 1 = editable, the same for every channel. Writes to `out` when given
 * (which may be the latent's own array).
 */
export function irjsBlend(
  latent: Latent,
  source: Latent,
  noise: Float32Array,
  mask: Uint8Array,
  t: number,
  scheduler: DDIMScheduler,
  out: Float32Array = new Float32Array(latent.data.length),
): Float32Array {
  const plane = latent.frames * latent.height * latent.width;
  const a = scheduler.alpha(t);
  const r = Math.sqrt(a);
  const s = Math.sqrt(1 - a);
  for (let base = 0; base < out.length; base += plane) {
    for (let p = 0; p < plane; p++) {
      const i = base + p;
      out[i] = mask[p] ? latent.data[i]! : r * source.data[i]! + s * noise[i]!;
    }
  }
  return out;
}
