/**
 * ReAtCo over the package's ONNX graphs: DDIM inversion of the source clip, then denoising where RAD
 * moves the latent down the gradient of the attention loss (main update and iterative refinement)
 * and IRJS keeps everything outside the regions from the forward-noised source; classifier-free
 * guidance; full-clip or sliding-window mode. Stage by stage the same as the PyTorch oracle
 * (models/reatco_models/oracle.py), which the tests prove.
 */
import { CancelledError } from '../../errors';
import type { Size } from '../../regions';
import type { EditSettings } from '../../server/protocol/settings';
import { irjsBlend } from '../irjs/blend';
import type { ModelPackage } from '../model-package';
import { NoiseAhead } from '../noise-ahead';
import { irjsStream } from '../random';
import { gridFrames, rankWeights, regionGrid, unionGrid, type ObjectRegion } from '../rad/masks';
import { radStepSize, refinementThresholds } from '../rad/schedule';
import { DDIMScheduler } from '../scheduler/ddim';
import { ModelError } from '../../errors';
import { dataOf, float32, int64, type GraphRunner } from '../sessions/ort';
import { planWindow, smallerWindow, type MemoryModel } from './memory';
import {
  addFrames_,
  descend_,
  dims,
  divideFrames_,
  guide,
  latentSize,
  repeatFirstHalf_,
  sliceFrames,
  zerosLike,
  type Latent,
  type LatentShape,
} from '../tensor/latent';
import type { ClipTokenizer } from '../tokenizer';
import { checkFrames, checkRegion, checkSettings, checkTokenIndex } from './validate';
import { coverage, frameWindows } from './windows';

export interface Graphs {
  readonly textEncoder: GraphRunner;
  readonly vaeEncoder: GraphRunner;
  readonly vaeDecoder: GraphRunner;
  readonly unet: GraphRunner;
  readonly unetRad: GraphRunner;
}

/** What the pipeline knows of the GPU it runs on (null on the CPU: no window limit). */
export interface GpuMemory {
  weightBytes: number;
  freeBytes(): number | null;
}

export interface EditObject {
  /** Position of the object word in the edited prompt (0 is the start token). */
  readonly tokenIndex: number;
  /** Where it must appear, in working-frame pixels. */
  readonly region: ObjectRegion;
}

export interface EditInput {
  /** RGB24 frames at the working size. */
  readonly frames: readonly Uint8Array[];
  readonly size: Size;
  /** The edited prompt: what the shot should show. */
  readonly prompt: string;
  readonly objects: readonly EditObject[];
  readonly settings: EditSettings;
}

export type Stage = 'encode' | 'invert' | 'edit' | 'decode';

/** What to tell the editor when a stage that does not run by windows runs out of GPU memory. */
function outOfMemoryAdvice(stage: Stage, frames: number, size: Size): string {
  return stage === 'invert'
    ? `The inversion runs on the whole clip at once, and ${frames} frames of ${size.width}x${size.height} do not fit this GPU's memory. Use a shorter clip or a smaller size.`
    : `The GPU ran out of memory ${stage === 'decode' ? 'decoding' : 'encoding'} frames of ${size.width}x${size.height}. Use a smaller size.`;
}

export interface Progress {
  readonly stage: Stage;
  /** Steps of the current stage done, out of totalSteps. */
  readonly step: number;
  readonly totalSteps: number;
  /** Graph runs so far (every ε, RAD and VAE call). */
  readonly modelCalls: number;
  readonly elapsedMs: number;
  /** Estimated time left, from the measured cost of each kind of call; null until one is measured. */
  readonly etaMs: number | null;
  /** 0..1 of the estimated total work. */
  readonly fraction: number;
}

export interface PipelineHooks {
  onProgress?(progress: Progress): void;
  /** Things worth a log line (a smaller window than asked for, and why). */
  onNotice?(line: string): void;
  /** Checked before every model call; a true answer stops the edit with a CancelledError. */
  shouldStop?(): boolean;
}

export interface EditStats {
  /** The window the edit ran with (null: the whole clip at once). */
  window: number | null;
  epsCalls: number;
  radPasses: number;
  refinementIterations: number;
  /** RAD updates left out because their gradient was not finite. */
  skippedRadUpdates: number;
  vaeCalls: number;
  /** Wall-clock time of each stage, host work between the model calls included. */
  msByStage: Record<Stage, number>;
  /** The part of each stage spent in model calls. */
  callMsByStage: Record<Stage, number>;
  /** Every model call's time, by kind, in call order: where a stage's time goes (benchmarks). */
  callMs: Record<CallKind, number[]>;
}

export interface EditOutput {
  /** RGB24 frames at the working size. */
  readonly frames: Uint8Array[];
  readonly latent: Latent;
  readonly stats: EditStats;
}

export interface RadResult {
  grad: Float32Array;
  loss: number;
  fg: Float32Array;
  bg: Float32Array;
}

/** Loss weights of the RAD graph: (fg, bg, max) per object. */
export const MAIN_UPDATE = [1, 1, 0] as const;
export const REFINEMENT = [0, 0, 1] as const;

/** One window's RAD inputs, fixed for the whole edit. */
interface WindowRegions {
  masks: Float32Array;
  rankFg: Float32Array;
  rankBg: Float32Array;
  irjsMask: Uint8Array;
}

export type CallKind = 'text' | 'vae' | 'inversion' | 'eps' | 'rad';

/** Measures each kind of call and estimates what is left. */
class ProgressMeter {
  private readonly started = Date.now();
  private readonly spent: Record<CallKind, number> = { text: 0, vae: 0, inversion: 0, eps: 0, rad: 0 };
  private readonly counted: Record<CallKind, number> = { text: 0, vae: 0, inversion: 0, eps: 0, rad: 0 };
  calls = 0;
  private fraction = 0;

  constructor(private readonly planned: Record<CallKind, number>) {}

  record(kind: CallKind, ms: number): void {
    this.spent[kind] += ms;
    this.counted[kind]++;
    this.calls++;
  }

  /** Refinement makes RAD passes data-dependent: the plan grows when more happen than expected. */
  expectAtLeast(kind: CallKind, total: number): void {
    this.planned[kind] = Math.max(this.planned[kind], total);
  }

  /** No more calls of this kind will come: the plan becomes what actually ran. */
  settle(kind: CallKind): void {
    this.planned[kind] = this.counted[kind];
  }

  private average(kind: CallKind): number | null {
    if (this.counted[kind]) return this.spent[kind] / this.counted[kind];
    // Before the first call of a kind: a RAD pass costs about one batch-2 ε call; an inversion step half.
    if (kind === 'rad' && this.counted.eps) return this.spent.eps / this.counted.eps;
    if (kind === 'inversion' && this.counted.eps) return this.spent.eps / this.counted.eps / 2;
    if (kind === 'eps' && this.counted.inversion) return (2 * this.spent.inversion) / this.counted.inversion;
    return null;
  }

  snapshot(stage: Stage, step: number, totalSteps: number): Progress {
    let remaining = 0;
    let known = true;
    let done = 0;
    let plannedCalls = 0;
    for (const kind of Object.keys(this.planned) as CallKind[]) {
      const left = Math.max(0, this.planned[kind] - this.counted[kind]);
      const average = this.average(kind);
      if (left > 0 && average === null) known = false;
      remaining += left * (average ?? 0);
      done += this.spent[kind];
      plannedCalls += Math.max(this.planned[kind], this.counted[kind]);
    }
    // By time once every kind of call has been measured, by call count before; never backwards
    // (refinement can add work to the plan).
    const estimate = known && done + remaining > 0 ? done / (done + remaining) : this.calls / Math.max(plannedCalls, 1);
    this.fraction = Math.min(1, Math.max(this.fraction, estimate));
    return {
      stage,
      step,
      totalSteps,
      modelCalls: this.calls,
      elapsedMs: Date.now() - this.started,
      etaMs: known ? Math.round(remaining) : null,
      fraction: this.fraction,
    };
  }
}

export class ReatcoPipeline {
  readonly scheduler: DDIMScheduler;
  /** Frames per VAE call: bounds the memory of full-resolution activations. */
  vaeBatch = 4;
  /** Whether a short last VAE call is filled up to vaeBatch with copies of its last frame, so that every
   *  call has one shape: the CUDA provider re-plans every convolution at a new shape (seconds for the
   *  VAE at full resolution), and the VAE treats frames independently. On by default on the GPU. */
  padVaeCalls: boolean;
  /** By latent tokens per frame: the largest RAD window these sessions have run (see planWindow). */
  private readonly provenWindows = new Map<number, number>();

  constructor(
    readonly pkg: ModelPackage,
    readonly graphs: Graphs,
    readonly tokenizer: ClipTokenizer,
    readonly gpu: GpuMemory | null = null,
  ) {
    const { alphas_cumprod: table, ...config } = pkg.manifest.scheduler;
    this.scheduler = new DDIMScheduler(config, table);
    this.padVaeCalls = gpu !== null;
  }

  /** The VAE calls for `frames` frames: the first frame of each, how many are real, how many it runs. */
  private vaeCallPlan(frames: number): { start: number; count: number; batch: number }[] {
    const plan = [];
    for (let start = 0; start < frames; start += this.vaeBatch) {
      const count = Math.min(this.vaeBatch, frames - start);
      plan.push({ start, count, batch: this.padVaeCalls ? this.vaeBatch : count });
    }
    return plan;
  }

  private get manifest() {
    return this.pkg.manifest;
  }

  latentShape(frames: number, size: Size): LatentShape {
    const cell = this.manifest.latent.cell_px;
    return { channels: this.manifest.latent.channels, frames, height: size.height / cell, width: size.width / cell };
  }

  // ---- stages -------------------------------------------------------------------------------

  /** Text embeddings (77 x hidden each) of the prompts, in one batch. */
  async textEmbeddings(prompts: readonly string[]): Promise<Float32Array[]> {
    const length = this.manifest.text.max_length;
    const ids = prompts.flatMap((p) => Array.from(this.tokenizer.encode(p).ids));
    const out = await this.graphs.textEncoder.run({ input_ids: int64(ids, [prompts.length, length]) });
    const all = dataOf(out.last_hidden_state, 'last_hidden_state');
    const rowSize = all.length / prompts.length;
    return prompts.map((_, i) => all.slice(i * rowSize, (i + 1) * rowSize));
  }

  /** RGB24 frames -> the scaled source latent z0 (the VAE posterior mean). */
  async encodeFrames(frames: readonly Uint8Array[], size: Size, call: CallHook = noCall): Promise<Latent> {
    const shape = this.latentShape(frames.length, size);
    const latent = zerosLike(shape);
    const plane = shape.height * shape.width;
    const pixels = size.width * size.height;
    const scale = this.manifest.latent.scaling_factor;
    const calls = this.vaeCallPlan(frames.length);
    const images = new Float32Array(calls[0]!.batch * 3 * pixels);
    for (const { start, count, batch } of calls) {
      const image = images.subarray(0, batch * 3 * pixels);
      for (let n = 0; n < batch; n++) {
        const frame = frames[start + Math.min(n, count - 1)]!;
        for (let c = 0; c < 3; c++) {
          const plane = image.subarray((n * 3 + c) * pixels, (n * 3 + c + 1) * pixels);
          for (let p = 0; p < pixels; p++) plane[p] = PIXEL_VALUES[frame[p * 3 + c]!]!;
        }
      }
      const out = await call('vae', () => this.graphs.vaeEncoder.run({ image: float32(image, [batch, 3, size.height, size.width]) }));
      const mean = dataOf(out.latent, 'latent');
      for (let n = 0; n < count; n++) {
        for (let c = 0; c < shape.channels; c++) {
          const from = (n * shape.channels + c) * plane;
          const to = (c * shape.frames + start + n) * plane;
          for (let i = 0; i < plane; i++) latent.data[to + i] = mean[from + i]! * scale;
        }
      }
    }
    return latent;
  }

  /** The scaled latent -> RGB24 frames (rounded, clamped). */
  async decodeLatent(latent: Latent, call: CallHook = noCall): Promise<Uint8Array[]> {
    const plane = latent.height * latent.width;
    const scale = this.manifest.latent.scaling_factor;
    const frames: Uint8Array[] = [];
    for (const { start, count, batch } of this.vaeCallPlan(latent.frames)) {
      const z = new Float32Array(batch * latent.channels * plane);
      for (let k = 0; k < batch; k++) {
        for (let c = 0; c < latent.channels; c++) {
          const from = (c * latent.frames + start + Math.min(k, count - 1)) * plane;
          z.set(latent.data.subarray(from, from + plane).map((v) => v / scale), (k * latent.channels + c) * plane);
        }
      }
      const out = await call('vae', () => this.graphs.vaeDecoder.run({ latent: float32(z, [batch, latent.channels, latent.height, latent.width]) }));
      const image = dataOf(out.image, 'image');
      const pixels = (image.length / batch / 3) | 0;
      for (let k = 0; k < count; k++) {
        const rgb = new Uint8Array(pixels * 3);
        // Clamps and rounds half to even, which for these values (float32 through (v + 1) 127.5, exact
        // in float64) is Math.round: the only halfway value is 127.5.
        const clamped = new Uint8ClampedArray(rgb.buffer);
        for (let c = 0; c < 3; c++) {
          const plane = (k * 3 + c) * pixels;
          for (let p = 0; p < pixels; p++) clamped[p * 3 + c] = (image[plane + p]! + 1) * 127.5;
        }
        frames.push(rgb);
      }
    }
    return frames;
  }

  /** ε prediction for a batch of windows of the same shape; `context` holds one embedding per batch item. */
  async eps(sample: Float32Array, shape: LatentShape, batch: number, t: number, context: Float32Array): Promise<Float32Array> {
    const out = await this.graphs.unet.run({
      sample: float32(sample, dims(shape, batch)),
      timestep: float32(Float32Array.of(t), [1]),
      encoder_hidden_states: float32(context, [batch, this.manifest.text.max_length, this.manifest.text.hidden_size]),
    });
    return dataOf(out.noise_pred, 'noise_pred');
  }

  /**
   * DDIM inversion with the empty prompt and no guidance: z0 -> z_T (Tune-A-Video's ddim_loop), in two
   * arrays of its own that take turns; `onStep`'s latent is valid until the next step.
   */
  async invert(z0: Latent, empty: Float32Array, steps: number, call: CallHook = noCall, onStep?: (i: number, z: Latent) => void): Promise<Latent> {
    let z = z0;
    const arrays = [new Float32Array(z0.data.length), new Float32Array(z0.data.length)];
    const timesteps = this.scheduler.timesteps(steps).reverse();
    for (let i = 0; i < timesteps.length; i++) {
      const t = timesteps[i]!;
      const eps = await call('inversion', () => this.eps(z.data, z, 1, t, empty));
      z = { ...z, data: this.scheduler.inversionStep(eps, t, z.data, steps, arrays[i % 2]) };
      onStep?.(i, z);
    }
    return z;
  }

  /** One evaluation of the RAD graph on a window: ∂L/∂z, L and per-object fg/bg. */
  async radPass(
    x: Latent,
    t: number,
    cond: Float32Array,
    tokens: readonly number[],
    regions: Pick<WindowRegions, 'masks' | 'rankFg' | 'rankBg'>,
    weights: readonly [number, number, number],
  ): Promise<RadResult> {
    const k = tokens.length;
    const cell = this.manifest.attention.cell_px / this.manifest.latent.cell_px;
    const [ah, aw] = [x.height / cell, x.width / cell];
    const weight = (w: number) => float32(new Float32Array(k).fill(w), [k]);
    const out = await this.graphs.unetRad.run({
      latent: float32(x.data, dims(x)),
      timestep: float32(Float32Array.of(t), [1]),
      encoder_hidden_states: float32(cond, [1, this.manifest.text.max_length, this.manifest.text.hidden_size]),
      region_masks: float32(regions.masks, [k, x.frames, ah, aw]),
      token_indices: int64(tokens),
      rank_weights_fg: float32(regions.rankFg, [k, x.frames, ah * aw]),
      rank_weights_bg: float32(regions.rankBg, [k, x.frames, ah * aw]),
      loss_weights_fg: weight(weights[0]),
      loss_weights_bg: weight(weights[1]),
      loss_weights_max: weight(weights[2]),
    });
    return {
      grad: dataOf(out.grad, 'grad'),
      loss: dataOf(out.loss, 'loss')[0]!,
      fg: dataOf(out.fg, 'fg'),
      bg: dataOf(out.bg, 'bg'),
    };
  }

  /** RAD inputs of each window, from the objects' regions (constant over the steps). */
  windowRegions(objects: readonly EditObject[], frames: number, size: Size, windows: readonly [number, number][], topFraction: number): WindowRegions[] {
    const attentionGrids = objects.map((o) => regionGrid(o.region, frames, size, this.manifest.attention.cell_px));
    const latentUnion = unionGrid(objects.map((o) => regionGrid(o.region, frames, size, this.manifest.latent.cell_px)));
    return windows.map(([a, b]) => {
      const grids = attentionGrids.map((g) => gridFrames(g, frames, a, b));
      const masks = new Float32Array(grids.reduce((n, g) => n + g.length, 0));
      grids.forEach((g, k) => masks.set(g, k * g.length));
      const { fg, bg } = rankWeights(grids, b - a, topFraction);
      return { masks, rankFg: fg, rankBg: bg, irjsMask: gridFrames(latentUnion, frames, a, b) };
    });
  }

  /**
   * The whole edit. Validates everything before the first model call; on a GPU, runs the window that
   * fits its free memory, and retries with half the window if the GPU still runs out of memory.
   */
  async edit(input: EditInput, hooks: PipelineHooks = {}): Promise<EditOutput> {
    const { frames, size, settings, objects } = input;
    checkFrames(frames, size, this.manifest);
    checkSettings(settings, frames.length);
    const promptTokens = Math.min(this.tokenizer.encode(input.prompt).tokens.length - 2, this.manifest.text.max_length - 2);
    objects.forEach((o, i) => {
      checkTokenIndex(o.tokenIndex, promptTokens, i);
      checkRegion(o.region, i, frames.length, size, this.manifest.attention.cell_px);
    });
    let plan = { window: settings.window, stride: settings.stride, reason: null as string | null };
    const latent = this.latentShape(frames.length, size);
    const tokens = latent.height * latent.width;
    // Only the RAD pass needs the window planned for memory.
    const gpu = settings.rad && objects.length > 0 ? this.gpu : null;
    if (gpu) {
      const model: MemoryModel = { tokens, weightBytes: gpu.weightBytes, elementBytes: this.manifest.precision === 'fp16' ? 2 : 4 };
      try {
        plan = planWindow(frames.length, settings, model, gpu.freeBytes(), this.provenWindows.get(tokens));
      } catch (error) {
        throw new ModelError('OUT_OF_MEMORY', `Not enough GPU memory for this edit: ${(error as Error).message}. Use a smaller quality preset or a shorter clip.`);
      }
    }
    for (;;) {
      if (plan.reason) hooks.onNotice?.(plan.reason);
      try {
        const output = await this.run({ ...input, settings: { ...settings, window: plan.window, stride: plan.stride } }, hooks);
        if (gpu) this.provenWindows.set(tokens, Math.max(Math.min(plan.window ?? frames.length, frames.length), this.provenWindows.get(tokens) ?? 0));
        return output;
      } catch (error) {
        // The call hook names the stage of an out-of-memory error that a smaller window cannot help.
        const byWindow = error instanceof ModelError && error.code === 'OUT_OF_MEMORY' && error.details?.stage === undefined;
        const next = byWindow ? smallerWindow(frames.length, plan.window) : null;
        if (!next || !(settings.rad && objects.length > 0)) throw error;
        plan = next;
      }
    }
  }

  /** One attempt at the edit with the settings as given (inputs already checked). */
  private async run(input: EditInput, hooks: PipelineHooks): Promise<EditOutput> {
    const { settings } = input;
    // IRJS's noise is drawn on another thread from the start, while the source is encoded and inverted.
    const count = latentSize(this.latentShape(input.frames.length, input.size));
    const streams = Array.from({ length: settings.steps }, (_, i) => irjsStream(i));
    const noise = settings.irjs && input.objects.length > 0 ? new NoiseAhead(settings.seed, count, streams) : null;
    try {
      return await this.attempt(input, hooks, noise);
    } finally {
      await noise?.close();
    }
  }

  private async attempt(input: EditInput, hooks: PipelineHooks, irjsNoise: NoiseAhead | null): Promise<EditOutput> {
    const { frames, size, settings, objects } = input;
    const windows = frameWindows(frames.length, settings.window, settings.stride);
    const useRad = settings.rad && objects.length > 0;
    const radSteps = Math.min(settings.radSteps ?? Math.floor(settings.steps / 2), settings.steps);
    const thresholds = useRad ? refinementThresholds(settings.refinement, settings.steps) : new Map<number, number>();
    const refinementPoints = [...thresholds.keys()].filter((i) => i < radSteps).length;
    const vaeCalls = 2 * Math.ceil(frames.length / this.vaeBatch);
    const meter = new ProgressMeter({
      text: 1,
      vae: vaeCalls,
      inversion: settings.inversionSteps,
      eps: settings.steps * windows.length,
      rad: useRad ? windows.length * (radSteps + refinementPoints * (1 + Math.ceil(settings.maxRefinementIterations / 2))) : 0,
    });
    const stats: EditStats = { window: settings.window, epsCalls: 0, radPasses: 0, refinementIterations: 0, skippedRadUpdates: 0, vaeCalls: 0, msByStage: { encode: 0, invert: 0, edit: 0, decode: 0 }, callMsByStage: { encode: 0, invert: 0, edit: 0, decode: 0 }, callMs: { text: [], vae: [], inversion: [], eps: [], rad: [] } };
    let stage: Stage = 'encode';
    let stageStep = 0;
    let stageTotal = 1;
    let stageStarted = performance.now();
    const finishStage = () => {
      const now = performance.now();
      stats.msByStage[stage] += now - stageStarted;
      stageStarted = now;
    };
    const enter = (next: Stage, steps: number) => {
      finishStage();
      [stage, stageStep, stageTotal] = [next, 0, steps];
    };
    const report = () => hooks.onProgress?.(meter.snapshot(stage, stageStep, stageTotal));
    const call: CallHook = async (kind, run) => {
      if (hooks.shouldStop?.()) throw new CancelledError();
      const started = performance.now();
      let result;
      try {
        result = await run();
      } catch (error) {
        // Only the edit stage runs by windows: elsewhere a smaller window cannot help.
        if (error instanceof ModelError && error.code === 'OUT_OF_MEMORY' && stage !== 'edit') {
          throw new ModelError('OUT_OF_MEMORY', outOfMemoryAdvice(stage, frames.length, size), { ...error.details, stage });
        }
        throw error;
      }
      const ms = performance.now() - started;
      meter.record(kind, ms);
      stats.callMsByStage[stage] += ms;
      stats.callMs[kind].push(ms);
      if (kind === 'eps' || kind === 'inversion') stats.epsCalls++;
      else if (kind === 'rad') stats.radPasses++;
      else if (kind === 'vae') stats.vaeCalls++;
      report();
      return result;
    };

    // 2. Encode the prompts and the source frames.
    const [empty, cond] = await call('text', () => this.textEmbeddings(['', input.prompt]));
    const z0 = await this.encodeFrames(frames, size, call);

    // 3. DDIM inversion of the source.
    enter('invert', settings.inversionSteps);
    const zT = await this.invert(z0, empty!, settings.inversionSteps, call, (i) => (stageStep = i + 1));

    // 4. Denoise with RAD, IRJS and guidance. The latent z starts as the inversion's own array and is
    // updated in place; each window's frames x, the UNet's input (x after IRJS, twice) and ε̂ use arrays
    // allocated once for the edit.
    enter('edit', settings.steps);
    const regions = this.windowRegions(objects, frames.length, size, windows, settings.topFraction);
    const tokens = objects.map((o) => o.tokenIndex);
    const counts = coverage(frames.length, windows);
    const timesteps = this.scheduler.timesteps(settings.steps);
    const context = new Float32Array(2 * empty!.length);
    context.set(empty!, 0);
    context.set(cond!, empty!.length);
    const [first, last] = windows[0]!; // every window has as many frames
    const n = latentSize({ ...zT, frames: last - first });
    const epsInput = new Float32Array(2 * n);
    const sample = epsInput.subarray(0, n);
    const guided = new Float32Array(n);
    // Overlapping windows are averaged in `total`; a single window is z itself.
    const windowed = windows.length > 1 ? { x: new Float32Array(n), noise: new Float32Array(n), total: zerosLike(zT) } : null;
    const sources = windows.map(([a, b]) => sliceFrames(z0, a, b));
    let z = zT;
    for (let i = 0; i < timesteps.length; i++) {
      const t = timesteps[i]!;
      const alpha = radStepSize(i, settings.steps, settings.stepScale, settings.stepRange);
      const noise = irjsNoise ? { ...z0, data: await irjsNoise.take(irjsStream(i)) } : null;
      for (let w = 0; w < windows.length; w++) {
        const [a, b] = windows[w]!;
        const region = regions[w]!;
        const x = sliceFrames(z, a, b, windowed?.x);
        if (useRad && i < radSteps) {
          const threshold = thresholds.get(i);
          if (threshold !== undefined) {
            await this.refine_(x, t, cond!, tokens, region, alpha, threshold, settings.maxRefinementIterations, call, stats);
            meter.expectAtLeast('rad', stats.radPasses + (timesteps.length - i) * windows.length);
          }
          const { grad } = await call('rad', () => this.radPass(x, t, cond!, tokens, region, MAIN_UPDATE));
          if (!descend_(x.data, alpha, grad)) stats.skippedRadUpdates++;
        }
        if (noise) irjsBlend(x, sources[w]!, sliceFrames(noise, a, b, windowed?.noise).data, region.irjsMask, t, this.scheduler, sample);
        else sample.set(x.data);
        const prediction = await call('eps', () => this.eps(repeatFirstHalf_(epsInput), x, 2, t, context));
        this.scheduler.step(guide(prediction, settings.guidanceScale, guided), t, sample, settings.steps, x.data);
        if (windowed) addFrames_(windowed.total, x, a);
      }
      if (windowed) {
        divideFrames_(windowed.total, counts);
        [z, windowed.total] = [windowed.total, z];
        windowed.total.data.fill(0);
      }
      stageStep = i + 1;
    }

    meter.settle('rad');
    meter.settle('eps');

    // 5. Decode.
    enter('decode', 1);
    const edited = await this.decodeLatent(z, call);
    stageStep = 1;
    report();
    finishStage();
    return { frames: edited, latent: z, stats };
  }

  /** Attend-and-Excite refinement, on x in place: descend max_k (1 − fg_k)_+ until every fg reaches the
   *  threshold (tested on the current latent) or the iteration limit. */
  private async refine_(
    x: Latent,
    t: number,
    cond: Float32Array,
    tokens: readonly number[],
    regions: WindowRegions,
    alpha: number,
    threshold: number,
    maxIterations: number,
    call: CallHook,
    stats: EditStats,
  ): Promise<void> {
    let result = await call('rad', () => this.radPass(x, t, cond, tokens, regions, REFINEMENT));
    let iterations = 0;
    while (result.loss > 1 - threshold && iterations < maxIterations) {
      if (!descend_(x.data, alpha, result.grad)) {
        stats.skippedRadUpdates++;
        break;
      }
      iterations++;
      if (iterations === maxIterations) break; // the loss at the last latent would decide nothing
      result = await call('rad', () => this.radPass(x, t, cond, tokens, regions, REFINEMENT));
    }
    stats.refinementIterations += iterations;
  }
}

/** The VAE's input value of each byte, v / 127.5 − 1: a lookup instead of a division per subpixel. */
const PIXEL_VALUES = Float32Array.from({ length: 256 }, (_, v) => v / 127.5 - 1);

/** Wraps every model call: cancellation check, timing, progress. */
export type CallHook = <T>(kind: CallKind, run: () => Promise<T>) => Promise<T>;
const noCall: CallHook = (_kind, run) => run();
