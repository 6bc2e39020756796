/**
 * The engine's host work (a script that prints figures, not a test): what the pipeline does between
 * its model calls (pixel conversions for the VAE, the DDIM, RAD, IRJS and guidance arithmetic over the
 * latents, the copies) in the SD-1.x-size edit of issue 7: 16 frames at 448x768, 50 inversion and
 * 50 edit steps, two objects, RAD with refinement to its limit (85 passes), IRJS, guidance.
 *
 * On the GPU machine this is stage time minus model-call time in `reatco bench` (1.2 s of the H200's
 * 29.5 s edit, helper-service/results/gpu.md). On a CPU the same figure is blurred by ONNX Runtime's
 * threads, which keep spinning on the cores after a run; so here the model calls are graphs that only
 * hand back fresh outputs of the right shapes (written inside the call, as ONNX Runtime's are) and hold
 * the thread for --call-ms (as onnxruntime-node's run does, while the IRJS noise of the next steps is
 * drawn on its own thread), and everything else is the engine's own code.
 *
 *   node helper-service/dist/src/bench/host-work.js [--frames 16] [--size 448x768] [--runs 3] [--call-ms 40]
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { MODELS_DIR } from '../cli/defaults';
import { readModelPackage, type ModelPackage } from '../engine/model-package';
import { ReatcoPipeline, type Graphs, type Stage } from '../engine/pipeline/edit-pipeline';
import { resolveSettings } from '../engine/pipeline/validate';
import { normal } from '../engine/random';
import { float32, type Feeds, type GraphRunner, type Outputs } from '../engine/sessions/ort';
import { ClipTokenizer } from '../engine/tokenizer';

/** tiny-random's package with SD-1.x's geometry: latents at 1/8 of the frame, RAD's attention at 1/32,
 *  768-wide text embeddings. Only the shapes matter here. */
function sdGeometry(): ModelPackage {
  const pkg = readModelPackage(path.join(MODELS_DIR, 'tiny-random'));
  const m = pkg.manifest;
  return {
    ...pkg,
    manifest: { ...m, precision: 'fp16', latent: { ...m.latent, cell_px: 8 }, attention: { ...m.attention, cell_px: 32 }, text: { ...m.text, hidden_size: 768 } },
  };
}

const blocker = new Int32Array(new SharedArrayBuffer(4));

/** A graph that computes nothing: it holds the thread for `callMs`, then each output is a fresh array of
 *  the shape `shapes` gives for the feeds, holding `constants[output]` or else a fixed pattern of small
 *  values (no zeros or denormals, which would make the arithmetic cheaper). */
function shapesOnly(name: string, callMs: number, shapes: (feeds: Feeds) => Record<string, number[]>, constants: Record<string, number> = {}): GraphRunner {
  const pattern = normal(0, 0, 1 << 16).map((v) => 0.1 * v);
  return {
    name,
    release: async () => {},
    run: async (feeds) => {
      Atomics.wait(blocker, 0, 0, callMs);
      const outputs: Outputs = {};
      for (const [output, dims] of Object.entries(shapes(feeds))) {
        const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
        const constant = constants[output];
        if (constant === undefined) for (let i = 0; i < data.length; i++) data[i] = pattern[i & 0xffff]!;
        else data.fill(constant);
        outputs[output] = float32(data, dims);
      }
      return outputs;
    },
  };
}

function standInGraphs(pkg: ModelPackage, callMs: number): Graphs {
  const { latent, text } = pkg.manifest;
  const dimsOf = (feeds: Feeds, name: string) => [...feeds[name]!.dims];
  return {
    textEncoder: shapesOnly('text encoder', callMs, (f) => ({ last_hidden_state: [dimsOf(f, 'input_ids')[0]!, text.max_length, text.hidden_size] })),
    vaeEncoder: shapesOnly('VAE encoder', callMs, (f) => {
      const [batch, , h, w] = dimsOf(f, 'image');
      return { latent: [batch!, latent.channels, h! / latent.cell_px, w! / latent.cell_px] };
    }),
    vaeDecoder: shapesOnly('VAE decoder', callMs, (f) => {
      const [batch, , h, w] = dimsOf(f, 'latent');
      return { image: [batch!, 3, h! * latent.cell_px, w! * latent.cell_px] };
    }),
    unet: shapesOnly('UNet', callMs, (f) => ({ noise_pred: dimsOf(f, 'sample') })),
    // A loss of 1 (fg = 0): every refinement runs to its iteration limit, as in the GPU benchmark's
    // edit of random weights.
    unetRad: shapesOnly(
      'RAD graph',
      callMs,
      (f) => ({ grad: dimsOf(f, 'latent'), loss: [1], fg: dimsOf(f, 'token_indices'), bg: dimsOf(f, 'token_indices') }),
      { loss: 1, fg: 0, bg: 0 },
    ),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { frames: { type: 'string', default: '16' }, size: { type: 'string', default: '448x768' }, runs: { type: 'string', default: '3' }, 'call-ms': { type: 'string', default: '40' } },
  });
  const [height, width] = values.size.split('x').map(Number) as [number, number];
  const size = { width, height };
  const pkg = sdGeometry();
  const pipeline = new ReatcoPipeline(pkg, standInGraphs(pkg, Number(values['call-ms'])), ClipTokenizer.fromFiles(pkg.tokenizerDir));
  pipeline.padVaeCalls = true; // as on the GPU
  const frames = Array.from({ length: Number(values.frames) }, (_, f) => Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 7 + 13 * f) & 255));
  const prompt = 'a red star and a green ring on a grey background';
  const box = (x: number, y: number) => [x * width, y * height, (x + 0.4) * width, (y + 0.4) * height].map(Math.round) as [number, number, number, number];
  const objects = [
    { tokenIndex: pipeline.tokenizer.findWordTokens(prompt, 'star').index, region: { kind: 'boxes' as const, keyframes: [{ frame: 0, box: box(0.05, 0.05) }] } },
    { tokenIndex: pipeline.tokenizer.findWordTokens(prompt, 'ring').index, region: { kind: 'boxes' as const, keyframes: [{ frame: 0, box: box(0.55, 0.5) }] } },
  ];
  const settings = resolveSettings({});
  await pipeline.edit({ frames, size, prompt, objects, settings: { ...settings, steps: 4, inversionSteps: 2 } }); // warm-up: the JIT
  const stages: Stage[] = ['encode', 'invert', 'edit', 'decode'];
  const runs: Record<Stage | 'total', number>[] = [];
  for (let r = 0; r < Number(values.runs); r++) {
    const { stats } = await pipeline.edit({ frames, size, prompt, objects, settings });
    const host = Object.fromEntries(stages.map((s) => [s, stats.msByStage[s] - stats.callMsByStage[s]])) as Record<Stage, number>;
    runs.push({ ...host, total: stages.reduce((sum, s) => sum + host[s], 0) });
    console.log(`run ${r + 1}: host work ${stages.map((s) => `${s} ${host[s].toFixed(0)}`).join(', ')}, total ${runs.at(-1)!.total.toFixed(0)} ms (${stats.radPasses} RAD passes, ${stats.epsCalls} ε calls)`);
  }
  const median = (key: Stage | 'total') => runs.map((r) => r[key]).sort((a, b) => a - b)[runs.length >> 1]!;
  console.log(`median of ${runs.length}: ${stages.map((s) => `${s} ${median(s).toFixed(0)}`).join(', ')}, total ${median('total').toFixed(0)} ms`);
}

void main();
