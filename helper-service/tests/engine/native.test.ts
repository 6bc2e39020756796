/**
 * NativeSession (helper-service/native's addon): the RAD graph opened with the "reatco"
 * custom-operator library, on the CPU. The plain graph gives onnxruntime-node's results; unet_rad_cuda,
 * whose attention backwards are fused into reatco.SoftmaxTimesGrad, gives the same gradient and the
 * oracle's edit. Skipped where the native build is missing (test/native-build.js makes it where g++ is).
 */
import { loadModel, type LoadedModel } from '../../src/engine/models';
import { MAIN_UPDATE, REFINEMENT, ReatcoPipeline } from '../../src/engine/pipeline/edit-pipeline';
import { normal } from '../../src/engine/random';
import { NativeSession, nativeBuild } from '../../src/engine/sessions/native';
import { float32 } from '../../src/engine/sessions/ort';
import { OracleFixtures, TINY_RANDOM, relativeError } from '../helpers/fixtures';

const fx = new OracleFixtures();
const size = { width: fx.meta.width, height: fx.meta.height };
const frames = fx.meta.frames;
const objects = fx.objects();

(nativeBuild() ? describe : describe.skip)('NativeSession', () => {
  let model: LoadedModel;
  const opened: NativeSession[] = [];
  const open = async (component: 'unet_rad' | 'unet_rad_cuda') => {
    const session = await NativeSession.open(component, model.pipeline.pkg.graphPath(component), { provider: 'cpu', threads: 2 });
    opened.push(session);
    return session;
  };
  const withRad = (unetRad: NativeSession) => new ReatcoPipeline(model.pipeline.pkg, { ...model.pipeline.graphs, unetRad }, model.pipeline.tokenizer);

  beforeAll(async () => (model = await loadModel(TINY_RANDOM, { provider: 'cpu', threads: 2 })));
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.release()));
    await model.release();
  });

  async function radPasses(pipeline: ReatcoPipeline) {
    const regions = pipeline.windowRegions(objects, frames, size, [[0, frames]], 0.2)[0]!;
    const [cond] = await pipeline.textEmbeddings([fx.meta.prompts.edit]);
    const shape = pipeline.latentShape(frames, size);
    const x = { ...shape, data: normal(5, 0, shape.channels * shape.frames * shape.height * shape.width) };
    const tokens = objects.map((o) => o.tokenIndex);
    return Promise.all([MAIN_UPDATE, REFINEMENT].map((w) => pipeline.radPass(x, 501, cond!, tokens, regions, w)));
  }

  it('runs the plain RAD graph as onnxruntime-node does', async () => {
    const want = await radPasses(model.pipeline);
    const got = await radPasses(withRad(await open('unet_rad')));
    got.forEach((g, i) => {
      expect(relativeError(g.grad, want[i]!.grad)).toBeLessThan(1e-6);
      expect(g.loss).toBeCloseTo(want[i]!.loss, 6);
    });
  });

  it('runs unet_rad_cuda, its attention backwards fused by the custom operator, to the same gradient', async () => {
    const want = await radPasses(model.pipeline);
    const got = await radPasses(withRad(await open('unet_rad_cuda')));
    got.forEach((g, i) => {
      expect(relativeError(g.grad, want[i]!.grad)).toBeLessThan(1e-5);
      expect(Array.from(g.fg)).toEqual(Array.from(want[i]!.fg).map((v) => expect.closeTo(v, 6)));
    });
  });

  it('edits the fixture clip through unet_rad_cuda as the PyTorch oracle does', async () => {
    const settings = fx.settings('full');
    const pipeline = withRad(await open('unet_rad_cuda'));
    const result = await pipeline.edit({ frames: fx.frames('frames_source'), size, prompt: fx.meta.prompts.edit, objects, settings });
    expect(relativeError(result.latent.data, fx.f32('edit_full_latent'))).toBeLessThan(1e-3);
  });

  it('refuses wrong feeds and reports a graph it cannot open, as GraphSession does', async () => {
    const session = await open('unet_rad');
    await expect(session.run({ latent: float32(new Float32Array(1), [1]) })).rejects.toMatchObject({ code: 'INFERENCE_FAILED', message: expect.stringMatching(/missing \[timestep/) });
    await expect(NativeSession.open('nothing', '/nonexistent.onnx', { provider: 'cpu' })).rejects.toMatchObject({ code: 'MODEL_INVALID' });
  });
});
