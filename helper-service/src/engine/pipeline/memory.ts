/**
 * Which window of frames fits the GPU. The RAD gradient pass is what runs out of memory: it keeps
 * activations for the backward pass, and its head-by-head attention backward holds a few
 * (frames x tokens x 2 tokens) maps at the finest level while it runs. A window that would not fit
 * is never attempted; an out-of-memory error that still happens halves the window (see edit-pipeline).
 */

export interface MemoryModel {
  /** Latent tokens at the finest attention level (latent height x width). */
  tokens: number;
  /** Bytes of model weights the sessions hold. */
  weightBytes: number;
  /** Bytes per activation and map element: 2 for fp16 packages, 4 for fp32. */
  elementBytes: number;
}

// Fitted to the GPU memory ONNX Runtime's CUDA provider takes for the SD-1.x fp16 RAD pass at 448x768
// (H200, 2026-12-01, norms with written-out backwards: 15.7 GiB at 4 frames, 28.7 at 8, 57.7 at 16, each
// window in a fresh session, 1.6 GiB of it weights). That is about four times the live activations
// (helper-service/results/gpu.md: the arena grows in powers of two), split as the live tensors split
// between maps and the rest. fp32 packages are assumed to take twice as much (not measured on a GPU).
/** Per frame and latent token: bytes of fp16 activations kept for the backward pass. */
const ACTIVATION_BYTES_PER_TOKEN = 405e3;
/** (tokens x 2 tokens) attention maps per frame, arena growth included. */
const ATTENTION_MAPS = 14;

export function radPeakBytes(model: MemoryModel, frames: number): number {
  const maps = ATTENTION_MAPS * model.elementBytes * model.tokens * 2 * model.tokens;
  const activations = (model.tokens * ACTIVATION_BYTES_PER_TOKEN * model.elementBytes) / 2;
  return model.weightBytes + frames * (activations + maps);
}

export interface WindowPlan {
  window: number | null;
  stride: number;
  /** Why the window differs from what was asked, for the log. */
  reason: string | null;
}

/** Keeps a margin for the ε graph's own arena and fragmentation. */
const USABLE_FRACTION = 0.8;

/**
 * The window to run: the one asked for when it fits (or when nothing is known about free memory),
 * otherwise the largest that fits, overlapping by half. Throws when not even 2 frames fit.
 * `proven` is the largest window at this frame size that the loaded sessions have already run: ONNX
 * Runtime's arena keeps the memory a run took, which free memory then no longer shows, and a window
 * that ran once fits again.
 */
export function planWindow(
  frames: number,
  requested: { window: number | null; stride: number },
  model: MemoryModel,
  freeBytes: number | null,
  proven = 0,
): WindowPlan {
  const asked = Math.min(requested.window ?? frames, frames);
  if (freeBytes === null || asked <= proven) return { ...requested, reason: null };
  const budget = freeBytes * USABLE_FRACTION;
  const fits = (window: number) => window <= proven || radPeakBytes(model, window) <= budget;
  if (fits(asked)) return { ...requested, reason: null };
  let window = asked;
  while (window > 2 && !fits(window)) window = Math.max(2, Math.floor(window / 2));
  if (!fits(window)) {
    throw new RangeError(`even 2-frame windows need about ${gib(radPeakBytes(model, 2))} of GPU memory; ${gib(freeBytes)} are free`);
  }
  return {
    window,
    stride: Math.max(1, Math.floor(window / 2)),
    reason: `${asked} frames need about ${gib(radPeakBytes(model, asked))} of GPU memory and ${gib(freeBytes)} are free: running ${window}-frame windows`,
  };
}

/** The next smaller window after an out-of-memory error, or null when there is none. */
export function smallerWindow(frames: number, current: number | null): WindowPlan | null {
  const size = Math.min(current ?? frames, frames);
  if (size <= 2) return null;
  const window = Math.max(2, Math.floor(size / 2));
  return { window, stride: Math.max(1, Math.floor(window / 2)), reason: `the GPU ran out of memory with ${size}-frame windows: retrying with ${window}` };
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}
