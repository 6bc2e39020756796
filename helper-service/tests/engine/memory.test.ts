/**
 * The fits-in-memory rule: a window that would not fit is never attempted, and an out-of-memory error
 * from the provider becomes a smaller window (or a clear message), never a crash.
 */
import { ModelError } from '../../src/errors';
import { loadModel, type LoadedModel } from '../../src/engine/models';
import { ReatcoPipeline, type GpuMemory } from '../../src/engine/pipeline/edit-pipeline';
import { planWindow, radPeakBytes, smallerWindow } from '../../src/engine/pipeline/memory';
import { resolveSettings } from '../../src/engine/pipeline/validate';
import type { Feeds, GraphRunner } from '../../src/engine/sessions/ort';
import { OracleFixtures, TINY_RANDOM } from '../helpers/fixtures';

const GiB = 2 ** 30;
const SD = { tokens: 56 * 96, weightBytes: 3.6 * GiB, elementBytes: 2 }; // SD-1.x fp16 at 448x768: both UNet graphs hold the weights

describe('planWindow', () => {
  it('covers what the SD-1.x RAD pass took on the H200 (15.7 GiB at 4 frames, 28.7 at 8, 57.7 at 16), by little', () => {
    const rad = { ...SD, weightBytes: 1.6 * GiB }; // the RAD session alone, as measured
    for (const [frames, measured] of [[4, 15.7], [8, 28.7], [16, 57.7]] as const) {
      expect(radPeakBytes(rad, frames) / GiB).toBeGreaterThanOrEqual(measured);
      expect(radPeakBytes(rad, frames) / GiB).toBeLessThanOrEqual(measured * 1.25);
    }
  });
  it('keeps the requested window when it fits, or when free memory is unknown', () => {
    expect(planWindow(16, { window: null, stride: 1 }, SD, 100 * GiB)).toEqual({ window: null, stride: 1, reason: null });
    expect(planWindow(16, { window: null, stride: 1 }, SD, null).window).toBeNull();
  });
  it('picks the largest window that fits, half-overlapping, and says why', () => {
    const plan = planWindow(16, { window: null, stride: 1 }, SD, 48 * GiB);
    expect(plan.window).toBe(8);
    expect(plan.stride).toBe(4);
    expect(plan.reason).toMatch(/16 frames need about .* GiB .* running 8-frame windows/);
    expect(radPeakBytes(SD, plan.window!)).toBeLessThanOrEqual(0.8 * 48 * GiB);
    expect(planWindow(16, { window: null, stride: 1 }, SD, 26 * GiB).window).toBe(4);
  });
  it('keeps a window the sessions have already run, whatever free memory says (their arena holds it)', () => {
    expect(planWindow(16, { window: null, stride: 1 }, SD, 10 * GiB, 16)).toEqual({ window: null, stride: 1, reason: null });
    expect(planWindow(16, { window: null, stride: 1 }, SD, 10 * GiB, 8)).toMatchObject({ window: 8, stride: 4 });
    expect(planWindow(16, { window: null, stride: 1 }, SD, 48 * GiB, 4).window).toBe(8);
  });
  it('refuses when not even 2-frame windows fit', () => {
    expect(() => planWindow(16, { window: null, stride: 1 }, SD, 4 * GiB)).toThrow(/even 2-frame windows/);
  });
  it('halves the window after an out-of-memory error, down to 2 frames', () => {
    expect(smallerWindow(16, null)).toMatchObject({ window: 8, stride: 4 });
    expect(smallerWindow(16, 4)).toMatchObject({ window: 2, stride: 1 });
    expect(smallerWindow(16, 2)).toBeNull();
  });
});

describe('out of memory during an edit', () => {
  const fx = new OracleFixtures();
  const size = { width: fx.meta.width, height: fx.meta.height };
  let model: LoadedModel;
  beforeAll(async () => (model = await loadModel(TINY_RANDOM, { provider: 'cpu', threads: 2 })));
  afterAll(() => model.release());

  /** The real RAD session, failing like CUDA does when a window holds more than `limit` frames. */
  function limitedRad(limit: number, seen: number[]): GraphRunner {
    const real = model.pipeline.graphs.unetRad;
    return {
      name: real.name,
      release: () => Promise.resolve(),
      run: (feeds: Feeds) => {
        const frames = feeds.latent!.dims[2]!;
        seen.push(frames);
        if (frames > limit) return Promise.reject(new ModelError('OUT_OF_MEMORY', 'The GPU ran out of memory running unet_rad.'));
        return real.run(feeds);
      },
    };
  }

  function pipelineWith(rad: GraphRunner, gpu: GpuMemory | null = null) {
    return new ReatcoPipeline(model.pipeline.pkg, { ...model.pipeline.graphs, unetRad: rad }, model.pipeline.tokenizer, gpu);
  }

  const input = () => ({
    frames: fx.frames('frames_source'),
    size,
    prompt: fx.meta.prompts.edit,
    objects: [{ tokenIndex: fx.meta.token_indices[0]!, region: { kind: 'boxes' as const, keyframes: [{ frame: 0, box: [16, 24, 72, 88] as const }] } }],
    settings: resolveSettings({ steps: 2, inversionSteps: 2, maxRefinementIterations: 0 }),
  });

  it('retries with half the window until it fits, and tells why', async () => {
    const seen: number[] = [];
    const notices: string[] = [];
    const result = await pipelineWith(limitedRad(3, seen)).edit(input(), { onNotice: (n) => notices.push(n) });
    expect(result.stats.window).toBe(3);
    expect(new Set(seen)).toEqual(new Set([6, 3]));
    expect(notices).toEqual([expect.stringMatching(/ran out of memory with 6-frame windows: retrying with 3/)]);
    expect(result.frames).toHaveLength(6);
  });

  it('fails with a clear OUT_OF_MEMORY error when even 2-frame windows do not fit', async () => {
    await expect(pipelineWith(limitedRad(1, [])).edit(input())).rejects.toMatchObject({ code: 'OUT_OF_MEMORY' });
  });

  it('does not shrink the window when the inversion, which takes the whole clip, runs out of memory', async () => {
    const seen: number[] = [];
    const real = model.pipeline.graphs.unet;
    const inversionRuns: number[] = [];
    const unet: GraphRunner = {
      name: real.name,
      release: () => Promise.resolve(),
      run: (feeds: Feeds) => {
        if (feeds.sample!.dims[0] === 1) {
          inversionRuns.push(feeds.sample!.dims[2]!);
          return Promise.reject(new ModelError('OUT_OF_MEMORY', 'The GPU ran out of memory running the UNet.'));
        }
        return real.run(feeds);
      },
    };
    const pipeline = new ReatcoPipeline(model.pipeline.pkg, { ...model.pipeline.graphs, unet, unetRad: limitedRad(6, seen) }, model.pipeline.tokenizer);
    const failure = pipeline.edit(input());
    await expect(failure).rejects.toMatchObject({ code: 'OUT_OF_MEMORY', details: { stage: 'invert' } });
    await expect(failure).rejects.toThrow(/inversion runs on the whole clip at once, and 6 frames of 160x128 do not fit .* shorter clip/);
    expect(inversionRuns).toEqual([6]);
    expect(seen).toEqual([]);
  });

  it('never attempts a window the free memory cannot hold', async () => {
    const seen: number[] = [];
    const perFrame = radPeakBytes({ tokens: 32 * 40, weightBytes: 0, elementBytes: 4 }, 1); // the tiny package is fp32
    const gpu: GpuMemory = { weightBytes: 0, freeBytes: () => (perFrame * 2.5) / 0.8 };
    const result = await pipelineWith(limitedRad(6, seen), gpu).edit(input());
    expect(Math.max(...seen)).toBeLessThanOrEqual(2);
    expect(result.stats.window).toBe(2);
  });

  it('runs a window again once it has run, though the arena it keeps no longer shows as free', async () => {
    const seen: number[] = [];
    const perFrame = radPeakBytes({ tokens: 32 * 40, weightBytes: 0, elementBytes: 4 }, 1);
    const free = [perFrame * 100, (perFrame * 2.5) / 0.8];
    const gpu: GpuMemory = { weightBytes: 0, freeBytes: () => free.shift() ?? free[0]! };
    const pipeline = pipelineWith(limitedRad(6, seen), gpu);
    expect((await pipeline.edit(input())).stats.window).toBeNull();
    expect((await pipeline.edit(input())).stats.window).toBeNull();
    expect(Math.min(...seen)).toBe(6);
  });
});
