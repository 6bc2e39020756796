/**
 * Properties that hold for any model, checked on the real tiny package: IRJS keeps the outside of the
 * regions equal to the forward-noised source; a RAD update lowers the RAD loss; a gradient that is not
 * finite is never applied; the same seed gives bit-identical results; filling the last VAE call up to
 * the batch changes nothing.
 */
import { irjsBlend } from '../../src/engine/irjs/blend';
import { loadModel, type LoadedModel } from '../../src/engine/models';
import { MAIN_UPDATE, ReatcoPipeline } from '../../src/engine/pipeline/edit-pipeline';
import { resolveSettings } from '../../src/engine/pipeline/validate';
import { irjsStream, normal } from '../../src/engine/random';
import { regionGrid, unionGrid } from '../../src/engine/rad/masks';
import { float32, type Feeds, type GraphRunner } from '../../src/engine/sessions/ort';
import { descend_, type Latent } from '../../src/engine/tensor/latent';
import { OracleFixtures, TINY_RANDOM } from '../helpers/fixtures';

let model: LoadedModel;
const fx = new OracleFixtures();
const size = { width: fx.meta.width, height: fx.meta.height };
const frames = fx.meta.frames;
const objects = [
  { tokenIndex: fx.meta.token_indices[0]!, region: { kind: 'boxes' as const, keyframes: [{ frame: 0, box: [16, 24, 72, 88] as const }] } },
  {
    tokenIndex: fx.meta.token_indices[1]!,
    region: {
      kind: 'boxes' as const,
      keyframes: [
        { frame: 0, box: [88, 40, 152, 104] as const },
        { frame: frames - 1, box: [64, 16, 128, 80] as const },
      ],
    },
  },
];

beforeAll(async () => {
  model = await loadModel(TINY_RANDOM, { provider: 'cpu', threads: 2 });
});
afterAll(() => model.release());

function randomLatent(seed: number): Latent {
  const shape = model.pipeline.latentShape(frames, size);
  return { ...shape, data: normal(seed, 0, shape.channels * shape.frames * shape.height * shape.width) };
}

it('IRJS: outside the regions the latent is exactly the forward-noised source, inside it is untouched', () => {
  const pkg = model.pipeline.pkg.manifest;
  const mask = unionGrid(objects.map((o) => regionGrid(o.region, frames, size, pkg.latent.cell_px)));
  const x = randomLatent(1);
  const z0 = randomLatent(2);
  const noise = normal(3, irjsStream(0), x.data.length);
  const plane = mask.length;
  for (const t of [981, 501, 1]) {
    const blended = irjsBlend(x, z0, noise, mask, t, model.pipeline.scheduler);
    const expectedOutside = model.pipeline.scheduler.addNoise(z0.data, noise, t);
    let inside = 0;
    for (let i = 0; i < blended.length; i++) {
      if (mask[i % plane]) {
        expect(blended[i]).toBe(x.data[i]);
        inside++;
      } else expect(blended[i]).toBe(expectedOutside[i]);
    }
    expect(inside).toBeGreaterThan(0);
    expect(inside).toBeLessThan(blended.length);
  }
});

it('RAD: a step against the gradient lowers the loss, by about α·|∇L|² for small steps', async () => {
  const regions = model.pipeline.windowRegions(objects, frames, size, [[0, frames]], 0.2)[0]!;
  const [cond] = await model.pipeline.textEmbeddings([fx.meta.prompts.edit]);
  const x = randomLatent(5);
  const tokens = objects.map((o) => o.tokenIndex);
  const before = await model.pipeline.radPass(x, 501, cond!, tokens, regions, MAIN_UPDATE);
  const gradNorm2 = before.grad.reduce((s, g) => s + g * g, 0);
  expect(gradNorm2).toBeGreaterThan(0);
  const alpha = 1e-3 / Math.sqrt(gradNorm2); // a step of length 1e-3 along −∇L
  const moved = x.data.slice();
  expect(descend_(moved, alpha, before.grad)).toBe(true);
  const after = await model.pipeline.radPass({ ...x, data: moved }, 501, cond!, tokens, regions, MAIN_UPDATE);
  const predicted = alpha * gradNorm2;
  expect(after.loss).toBeLessThan(before.loss);
  expect(Math.abs(before.loss - after.loss - predicted)).toBeLessThan(0.2 * predicted);
});

it('RAD: a gradient that is not finite is skipped and counted, so the edit is the one without RAD', async () => {
  const real = model.pipeline.graphs.unetRad;
  const overflowing: GraphRunner = {
    name: real.name,
    release: () => Promise.resolve(),
    run: async (feeds: Feeds) => {
      const out = await real.run(feeds);
      const grad = new Float32Array(out.grad!.data as Float32Array);
      grad[grad.length >> 1] = Number.POSITIVE_INFINITY;
      return { ...out, grad: float32(grad, out.grad!.dims) };
    },
  };
  const pipeline = new ReatcoPipeline(model.pipeline.pkg, { ...model.pipeline.graphs, unetRad: overflowing }, model.pipeline.tokenizer, null);
  const settings = resolveSettings({ steps: 3, inversionSteps: 3, maxRefinementIterations: 2 });
  const input = { frames: fx.frames('frames_source'), size, prompt: fx.meta.prompts.edit, objects, settings };
  const skipped = await pipeline.edit(input);
  expect(skipped.stats.skippedRadUpdates).toBeGreaterThan(0);
  expect(skipped.stats.skippedRadUpdates).toBe(skipped.stats.radPasses); // refinement stops at its first
  expect(skipped.latent.data.every(Number.isFinite)).toBe(true);
  const withoutRad = await model.pipeline.edit({ ...input, settings: { ...settings, rad: false } });
  expect(Buffer.from(skipped.latent.data.buffer).equals(Buffer.from(withoutRad.latent.data.buffer))).toBe(true);
});

it('the same seed reproduces the edit bit for bit on the CPU; another seed changes it', async () => {
  const settings = resolveSettings({ steps: 3, inversionSteps: 3, maxRefinementIterations: 2, seed: 11 });
  const input = { frames: fx.frames('frames_source'), size, prompt: fx.meta.prompts.edit, objects, settings };
  const first = await model.pipeline.edit(input);
  const second = await model.pipeline.edit(input);
  expect(Buffer.from(second.latent.data.buffer).equals(Buffer.from(first.latent.data.buffer))).toBe(true);
  second.frames.forEach((f, i) => expect(Buffer.from(f).equals(Buffer.from(first.frames[i]!))).toBe(true));
  const other = await model.pipeline.edit({ ...input, settings: { ...settings, seed: 12 } });
  expect(Buffer.from(other.latent.data.buffer).equals(Buffer.from(first.latent.data.buffer))).toBe(false);
});

it('VAE: filling a short last call up to the batch (one shape for the GPU) changes no frame and no latent', async () => {
  const source = fx.frames('frames_source');
  const clip = [...source, ...source].slice(0, model.pipeline.vaeBatch + 1); // one full call and one of a single frame
  const pipeline = model.pipeline;
  const shapes: number[][] = [];
  const recorded = { ...pipeline.graphs };
  for (const key of ['vaeEncoder', 'vaeDecoder'] as const) {
    const graph = pipeline.graphs[key];
    recorded[key] = { name: graph.name, release: () => graph.release(), run: (feeds: Feeds) => (shapes.push([...Object.values(feeds)[0]!.dims]), graph.run(feeds)) };
  }
  const padded = new ReatcoPipeline(pipeline.pkg, recorded, pipeline.tokenizer);
  padded.padVaeCalls = true;
  expect(pipeline.padVaeCalls).toBe(false); // on the CPU each call takes the frames it has
  const want = await pipeline.encodeFrames(clip, size);
  const got = await padded.encodeFrames(clip, size);
  expect(got.data.length).toBe(want.data.length);
  for (let i = 0; i < want.data.length; i += 97) expect(got.data[i]).toBeCloseTo(want.data[i]!, 5);
  const decodedWant = await pipeline.decodeLatent(want);
  const decodedGot = await padded.decodeLatent(want);
  expect(decodedGot).toHaveLength(clip.length);
  decodedGot.forEach((f, i) => expect(Math.max(...f.map((v, j) => Math.abs(v - decodedWant[i]![j]!)))).toBeLessThanOrEqual(1));
  expect(shapes.map((s) => s[0])).toEqual([4, 4, 4, 4]);
});
