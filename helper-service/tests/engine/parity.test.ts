/**
 * The engine on onnxruntime-node (CPU) against the PyTorch oracle's fixtures for models/tiny-random.
 *
 * Tolerances: single fp32 graphs agree with PyTorch to a few 1e-6 relative (different kernels and
 * summation orders), so 1e-4 leaves a wide margin while catching any semantic slip (a wrong layer,
 * a transposed axis or a missed scale is off by 1e-2 or more). End to end, 5 inversion and 5 edit
 * steps with RAD (step size 20), refinement and CFG 12.5 amplify those rounding differences, so the
 * bound is 1e-3. Decoded frames may differ by one level where a value rounds across .5.
 */
import { loadModel, type LoadedModel } from '../../src/engine/models';
import { MAIN_UPDATE, REFINEMENT } from '../../src/engine/pipeline/edit-pipeline';
import { irjsBlend } from '../../src/engine/irjs/blend';
import { irjsStream, normal } from '../../src/engine/random';
import { rankWeights, regionGrid, unionGrid } from '../../src/engine/rad/masks';
import { radStepSize } from '../../src/engine/rad/schedule';
import { descend_, type Latent } from '../../src/engine/tensor/latent';
import { OracleFixtures, TINY_RANDOM, cosine, maxByteDifference, relativeError } from '../helpers/fixtures';

const SINGLE_GRAPH = 1e-4;
const END_TO_END = 1e-3;

let model: LoadedModel;
const fx = new OracleFixtures();
const size = { width: fx.meta.width, height: fx.meta.height };
const frames = fx.meta.frames;
const tokens = fx.meta.token_indices;

function latentOf(name: string, data = fx.f32(name)): Latent {
  const shape = fx.shape(name);
  const [channels, f, height, width] = shape.slice(-4) as [number, number, number, number];
  return { channels, frames: f, height, width, data };
}

const objects = fx.objects();

beforeAll(async () => {
  model = await loadModel(TINY_RANDOM, { provider: 'cpu', threads: 2 });
});
afterAll(async () => {
  await model.release();
});

describe('regions and inputs', () => {
  it('rasterises the keyframed boxes into the oracle masks (attention and latent grids)', () => {
    const pkg = model.pipeline.pkg.manifest;
    const attention = fx.f32('attention_masks');
    const latent = fx.f32('latent_masks');
    objects.forEach((o, k) => {
      const a = regionGrid(o.region, frames, size, pkg.attention.cell_px);
      const l = regionGrid(o.region, frames, size, pkg.latent.cell_px);
      expect(Array.from(a)).toEqual(Array.from(attention.subarray(k * a.length, (k + 1) * a.length)));
      expect(Array.from(l)).toEqual(Array.from(latent.subarray(k * l.length, (k + 1) * l.length)));
    });
  });

  it('computes the same top-k rank weights', () => {
    const pkg = model.pipeline.pkg.manifest;
    const grids = objects.map((o) => regionGrid(o.region, frames, size, pkg.attention.cell_px));
    const { fg, bg } = rankWeights(grids, frames, 0.2);
    expect(relativeError(fg, fx.f32('rank_weights_fg'))).toBeLessThan(1e-7);
    expect(relativeError(bg, fx.f32('rank_weights_bg'))).toBeLessThan(1e-7);
  });

  it('draws the same IRJS noise as the oracle (portable RNG, bit for bit)', () => {
    expect(Array.from(normal(1234, 7, 4099))).toEqual(Array.from(fx.f32('rng_normal_seed1234_stream7')));
  });

  it('tokenizes the prompts to the oracle ids and finds the object words', () => {
    for (const key of ['empty', 'source', 'edit'] as const) {
      expect(Array.from(model.pipeline.tokenizer.encode(fx.meta.prompts[key]).ids)).toEqual(fx.ints(`ids_${key}`));
    }
    const words = fx.meta.words as string[];
    expect(words.map((w) => model.pipeline.tokenizer.findWordTokens(fx.meta.prompts.edit, w).index)).toEqual(tokens);
  });
});

describe('single graphs', () => {
  it('text encoder', async () => {
    const [empty, edit] = await model.pipeline.textEmbeddings([fx.meta.prompts.empty, fx.meta.prompts.edit]);
    expect(relativeError(empty!, fx.f32('emb_empty'))).toBeLessThan(SINGLE_GRAPH);
    expect(relativeError(edit!, fx.f32('emb_edit'))).toBeLessThan(SINGLE_GRAPH);
  });

  it('VAE encoder (scaled posterior mean) and decoder', async () => {
    const z0 = await model.pipeline.encodeFrames(fx.frames('frames_source'), size);
    expect(relativeError(z0.data, fx.f32('z0'))).toBeLessThan(SINGLE_GRAPH);
    const decoded = await model.pipeline.decodeLatent(latentOf('z0'));
    fx.frames('decoded_z0').forEach((expected, i) => expect(maxByteDifference(decoded[i]!, expected)).toBeLessThanOrEqual(1));
  });

  it('UNet ε, batch 2 with two prompts', async () => {
    const [, ...shape] = fx.shape('eps_output') as [number, number, number, number, number];
    const [channels, f, height, width] = shape;
    const sample = { channels, frames: f, height, width, data: normal(99, 0, 2 * channels * f * height * width) };
    const context = new Float32Array([...fx.f32('emb_empty'), ...fx.f32('emb_edit')]);
    const eps = await model.pipeline.eps(sample.data, sample, 2, fx.meta.eps_timestep, context);
    expect(relativeError(eps, fx.f32('eps_output'))).toBeLessThan(SINGLE_GRAPH);
  });

  it.each([
    ['main', MAIN_UPDATE],
    ['refine', REFINEMENT],
  ] as const)('RAD gradient graph, %s loss weights', async (name, weights) => {
    const zT = latentOf('inversion', fx.f32('inversion').slice(-fx.f32('z0').length));
    const regions = model.pipeline.windowRegions(objects, frames, size, [[0, frames]], 0.2)[0]!;
    const result = await model.pipeline.radPass(zT, fx.meta.edit_timesteps[0]!, fx.f32('emb_edit'), tokens, regions, weights);
    const expected = fx.f32(`rad_${name}_grad`);
    expect(cosine(result.grad, expected)).toBeGreaterThanOrEqual(0.9999);
    expect(relativeError(result.grad, expected)).toBeLessThan(1e-3);
    expect(relativeError([result.loss], fx.f32(`rad_${name}_loss`))).toBeLessThan(SINGLE_GRAPH);
    expect(relativeError(result.fg, fx.f32(`rad_${name}_fg`))).toBeLessThan(SINGLE_GRAPH);
    expect(relativeError(result.bg, fx.f32(`rad_${name}_bg`))).toBeLessThan(SINGLE_GRAPH);
  });
});

describe('steps', () => {
  it('DDIM inversion trajectory', async () => {
    const trajectory: Latent[] = [];
    const steps = fx.meta.inversion_timesteps.length;
    await model.pipeline.invert(latentOf('z0'), fx.f32('emb_empty'), steps, undefined, (_, z) => trajectory.push({ ...z, data: z.data.slice() }));
    const expected = fx.f32('inversion');
    const n = fx.f32('z0').length;
    trajectory.forEach((z, i) => expect(relativeError(z.data, expected.subarray((i + 1) * n, (i + 2) * n))).toBeLessThan(END_TO_END));
  });

  it('one RAD update and one IRJS blend at the first step', async () => {
    const n = fx.f32('z0').length;
    const zT = latentOf('z0', fx.f32('inversion').slice(-n));
    const alpha = radStepSize(0, 5, 20, [1, 0.5]);
    expect(alpha).toBeCloseTo(fx.meta.rad_step_size_0, 12);
    const updated = zT.data.slice();
    expect(descend_(updated, alpha, fx.f32('rad_main_grad'))).toBe(true);
    expect(relativeError(updated, fx.f32('rad_updated'))).toBeLessThan(1e-6);

    const pkg = model.pipeline.pkg.manifest;
    const mask = unionGrid(objects.map((o) => regionGrid(o.region, frames, size, pkg.latent.cell_px)));
    expect(Array.from(mask)).toEqual(Array.from(fx.f32('irjs_mask')));
    const noise = normal(7, irjsStream(0), n);
    expect(Array.from(noise)).toEqual(Array.from(fx.f32('irjs_noise_step0')));
    const blended = irjsBlend({ ...zT, data: updated }, latentOf('z0'), noise, mask, fx.meta.edit_timesteps[0]!, model.pipeline.scheduler);
    expect(relativeError(blended, fx.f32('irjs_blended'))).toBeLessThan(1e-6);
  });
});

describe('full edits (5 inversion + 5 edit steps, RAD with refinement, IRJS, CFG 12.5)', () => {
  it.each(['full', 'windowed'])('%s clip', async (run) => {
    const recorded = fx.meta.runs[run]!;
    const settings = fx.settings(run);
    const result = await model.pipeline.edit({ frames: fx.frames('frames_source'), size, prompt: fx.meta.prompts.edit, objects, settings });
    expect(relativeError(result.latent.data, fx.f32(`edit_${run}_latent`))).toBeLessThan(END_TO_END);
    const expectedPasses = recorded.trace.reduce((sum, step) => sum + step.rad_passes, 0);
    expect(result.stats.radPasses).toBe(expectedPasses);
    expect(result.stats.refinementIterations).toBe(recorded.trace.reduce((sum, step) => sum + step.refinement_iterations, 0));
    fx.frames(`edit_${run}_frames`).forEach((expected, i) => expect(maxByteDifference(result.frames[i]!, expected)).toBeLessThanOrEqual(2));
  });
});
