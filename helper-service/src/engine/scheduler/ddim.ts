/**
 * DDIM with Stable Diffusion 1.x settings (diffusers' DDIMScheduler, eta = 0, "leading" spacing) and
 * Tune-A-Video's DDIM inversion step. Pure: no ONNX, no tensors beyond Float32Array.
 */

export interface SchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: string;
  set_alpha_to_one: boolean;
  steps_offset: number;
}

/** ᾱ_t for t = 0..T-1, computed in float32 as diffusers does (linspace of sqrt(beta), squared, cumprod). */
export function alphasCumprod(config: SchedulerConfig): Float32Array {
  if (config.beta_schedule !== 'scaled_linear') throw new RangeError(`unsupported beta_schedule ${config.beta_schedule}`);
  const n = config.num_train_timesteps;
  const start = Math.fround(Math.sqrt(config.beta_start));
  const end = Math.fround(Math.sqrt(config.beta_end));
  const out = new Float32Array(n);
  let product = 1;
  for (let i = 0; i < n; i++) {
    const root = Math.fround(start + ((end - start) * i) / (n - 1));
    product = Math.fround(product * Math.fround(1 - Math.fround(root * root)));
    out[i] = product;
  }
  return out;
}

export class DDIMScheduler {
  readonly alphasCumprod: Float32Array;
  readonly finalAlphaCumprod: number;

  constructor(
    readonly config: SchedulerConfig,
    /** The package's table (model.json) when present, so the engine uses exactly the exporter's values. */
    table?: ArrayLike<number>,
  ) {
    this.alphasCumprod = table ? Float32Array.from(table) : alphasCumprod(config);
    this.finalAlphaCumprod = config.set_alpha_to_one ? 1 : this.alphasCumprod[0]!;
  }

  /** Denoising timesteps, high to low: 981, 961, ..., 1 for 50 steps. */
  timesteps(numSteps: number): number[] {
    const ratio = Math.floor(this.config.num_train_timesteps / numSteps);
    return Array.from({ length: numSteps }, (_, i) => (numSteps - 1 - i) * ratio + this.config.steps_offset);
  }

  alpha(t: number): number {
    return t >= 0 ? this.alphasCumprod[t]! : this.finalAlphaCumprod;
  }

  private stepRatio(numSteps: number): number {
    return Math.floor(this.config.num_train_timesteps / numSteps);
  }

  /** x_{t−Δ} = √ᾱ_prev x̂0 + √(1−ᾱ_prev) ε̂ with x̂0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t (η = 0). */
  step(eps: Float32Array, t: number, sample: Float32Array, numSteps: number, out: Float32Array = new Float32Array(sample.length)): Float32Array {
    return this.move(eps, this.alpha(t), this.alpha(t - this.stepRatio(numSteps)), sample, out);
  }

  /** Tune-A-Video's next_step: from the latent at t − Δ to t, with ε evaluated at t. */
  inversionStep(eps: Float32Array, t: number, sample: Float32Array, numSteps: number, out: Float32Array = new Float32Array(sample.length)): Float32Array {
    const current = Math.min(t - this.stepRatio(numSteps), 999);
    return this.move(eps, this.alpha(current), this.alphasCumprod[t]!, sample, out);
  }

  private move(eps: Float32Array, aFrom: number, aTo: number, sample: Float32Array, out: Float32Array): Float32Array {
    const sFrom = Math.sqrt(1 - aFrom);
    const rFrom = Math.sqrt(aFrom);
    const rTo = Math.sqrt(aTo);
    const sTo = Math.sqrt(1 - aTo);
    for (let i = 0; i < sample.length; i++) {
      const e = eps[i]!;
      out[i] = (rTo * (sample[i]! - sFrom * e)) / rFrom + sTo * e;
    }
    return out;
  }

  /** Forward noising √ᾱ_t x0 + √(1−ᾱ_t) ε. */
  addNoise(original: Float32Array, noise: Float32Array, t: number, out = new Float32Array(original.length)): Float32Array {
    const a = this.alphasCumprod[t]!;
    const r = Math.sqrt(a);
    const s = Math.sqrt(1 - a);
    for (let i = 0; i < original.length; i++) out[i] = r * original[i]! + s * noise[i]!;
    return out;
  }
}
