/**
 * Single-graph check (a script, not a test): runs a package's ε and RAD graphs on one provider with
 * the inputs of models/scripts/gpu_reference.py (drawn from the same portable generator), times them,
 * samples peak GPU memory with nvidia-smi, and compares with the PyTorch outputs that script wrote.
 *
 *   node helper-service/dist/src/bench/graph-check.js --model DIR --ref DIR [--provider cuda]
 *        [--frames 4] [--height 448] [--width 768] [--rad-frames 4,8,16] [--runs 10] [--out file.json]
 *        [--profile PREFIX] [--skip-eps]
 *
 * --rad-frames times the RAD graphs (plain, and fused where it opens) at each window size in sessions of
 * their own, with their peak memory (radByFrames, radFusedByFrames), which the window planner's memory
 * model (engine/pipeline/memory.ts) is fitted to.
 *
 * --profile writes ONNX Runtime's node profiles of the RAD graphs, PREFIX_plain_*.json and, where the
 * package has unet_rad_cuda and the native addon is built, PREFIX_fused_*.json
 * (scripts/ort-profile-summary.py reads them). On CUDA a node's time there is its launch, not its run,
 * unless CUDA_LAUNCH_BLOCKING=1 is set.
 * --skip-eps checks the RAD graph only (with --frames 16 --profile: the edit's RAD pass, profiled).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readModelPackage } from '../engine/model-package';
import { rankWeights } from '../engine/rad/masks';
import { normal } from '../engine/random';
import { NativeSession, nativeBuild } from '../engine/sessions/native';
import { GraphSession, dataOf, float32, int64, type Feeds, type GraphRunner, type ProviderName } from '../engine/sessions/ort';
import { rasterizeBox, type BoxPx } from '../regions';

const BOXES: BoxPx[] = [
  [67, 240, 271, 353],
  [410, 150, 590, 343],
];
const TOKENS = [2, 5];

/** Samples the GPU's used memory every 100 ms; `peak()` since the last `reset()`. */
class GpuMemory {
  private peakMiB = 0;
  private readonly child = (() => {
    try {
      const c = spawn('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-lms', '100']);
      c.on('error', () => {});
      c.stdout.on('data', (d: Buffer) => {
        for (const line of String(d).split('\n')) if (line.trim()) this.peakMiB = Math.max(this.peakMiB, Number(line.trim()));
      });
      return c;
    } catch {
      return null;
    }
  })();

  reset(): void {
    this.peakMiB = 0;
  }
  async peakGiB(): Promise<number | null> {
    await new Promise((r) => setTimeout(r, 250));
    return this.child ? this.peakMiB / 1024 : null;
  }
  stop(): void {
    this.child?.kill();
  }
}

function compare(actual: Float32Array, expected: Float32Array) {
  let diff = 0;
  let scale = 0;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
    ab += actual[i]! * expected[i]!;
    aa += actual[i]! ** 2;
    bb += expected[i]! ** 2;
  }
  return { relativeError: diff / scale, cosine: ab / Math.sqrt(aa * bb) };
}

async function time(session: GraphRunner, feeds: Feeds, runs: number) {
  const first = performance.now();
  let out = await session.run(feeds);
  const firstMs = performance.now() - first;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    out = await session.run(feeds);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { out, firstMs, medianMs: times[Math.floor(times.length / 2)]! };
}

async function main(): Promise<void> {
  const { values: o } = parseArgs({
    options: {
      model: { type: 'string' },
      ref: { type: 'string' },
      provider: { type: 'string', default: 'cuda' },
      frames: { type: 'string', default: '4' },
      height: { type: 'string', default: '448' },
      width: { type: 'string', default: '768' },
      'rad-frames': { type: 'string', default: '' },
      profile: { type: 'string' },
      'skip-eps': { type: 'boolean', default: false },
      runs: { type: 'string', default: '10' },
      out: { type: 'string' },
    },
  });
  const pkg = readModelPackage(o.model!);
  const m = pkg.manifest;
  const request = { provider: o.provider as ProviderName };
  const [frames, height, width, runs] = [o.frames, o.height, o.width, o.runs].map(Number) as [number, number, number, number];
  const [h, w] = [height / m.latent.cell_px, width / m.latent.cell_px];
  const grid = { width: width / m.attention.cell_px, height: height / m.attention.cell_px };
  const d = m.text.hidden_size;
  const memory = new GpuMemory();
  const report: Record<string, unknown> = { model: m.name, precision: m.precision, provider: o.provider, frames, size: [height, width] };

  const context = normal(98, 0, 2 * 77 * d);
  const epsFeeds = (batch: number, f: number): Feeds => ({
    sample: float32(normal(99, 0, batch * 4 * f * h * w), [batch, 4, f, h, w]),
    timestep: float32(Float32Array.of(501), [1]),
    encoder_hidden_states: float32(context.slice(0, batch * 77 * d), [batch, 77, d]),
  });
  // Each ε graph the package has: the portable one and, on CUDA, the one with fused GroupNorm. Timed at
  // the reference's size (its output is compared below) and at the edit's: batch 2 (CFG) and 1
  // (inversion) with 16 frames.
  const epsOut: Record<string, Float32Array> = {};
  const epsReport: Record<string, unknown> = {};
  for (const component of ['unet', 'unet_cuda'] as const) {
    if (o['skip-eps'] || !m.components[component] || (component === 'unet_cuda' && request.provider !== 'cuda')) continue;
    const opened = performance.now();
    const session = await GraphSession.open(component, pkg.graphPath(component), request);
    const sessionMs = performance.now() - opened;
    memory.reset();
    const atRef = await time(session, epsFeeds(2, frames), runs);
    const peakGiB = await memory.peakGiB();
    const cfg16 = await time(session, epsFeeds(2, 16), runs);
    const inversion16 = await time(session, epsFeeds(1, 16), runs);
    // Both shapes are warm now: whether switching between them still costs (in the full-clip edit the
    // first inversion and the first CFG call took 2.8 s each after a warm-up that ran both twice).
    const switchMs: number[] = [];
    for (const batch of [2, 1, 2, 1]) {
      const feeds = epsFeeds(batch, 16);
      const started = performance.now();
      await session.run(feeds);
      switchMs.push(performance.now() - started);
    }
    epsOut[component] = dataOf(atRef.out.noise_pred, 'noise_pred');
    epsReport[component] = {
      sessionMs,
      firstMs: atRef.firstMs,
      medianMs: atRef.medianMs,
      peakGiB,
      batch2x16MedianMs: cfg16.medianMs,
      batch1x16MedianMs: inversion16.medianMs,
      batchSwitchMs: switchMs,
    };
    await session.release();
  }
  report.eps = epsReport;
  const profilePrefix = (graph: string) => (o.profile ? `${o.profile}_${graph}` : undefined);
  const rad = await GraphSession.open('unet_rad', pkg.graphPath('unet_rad'), { ...request, profilePrefix: profilePrefix('plain') });

  const radFeeds = (f: number): Feeds => {
    const scale = { x: width / 768, y: height / 448 };
    const grids = BOXES.map((b) => {
      const one = rasterizeBox([b[0] * scale.x, b[1] * scale.y, b[2] * scale.x, b[3] * scale.y], grid, m.attention.cell_px);
      const all = new Uint8Array(f * one.length);
      for (let i = 0; i < f; i++) all.set(one, i * one.length);
      return all;
    });
    const { fg, bg } = rankWeights(grids, f, 0.2);
    const masks = new Float32Array(grids.length * grids[0]!.length);
    grids.forEach((g, k) => masks.set(g, k * g.length));
    const k = BOXES.length;
    const cells = grid.width * grid.height;
    return {
      latent: float32(normal(97, 0, 4 * f * h * w), [1, 4, f, h, w]),
      timestep: float32(Float32Array.of(501), [1]),
      encoder_hidden_states: float32(context.slice(77 * d), [1, 77, d]),
      region_masks: float32(masks, [k, f, grid.height, grid.width]),
      token_indices: int64(TOKENS),
      rank_weights_fg: float32(fg, [k, f, cells]),
      rank_weights_bg: float32(bg, [k, f, cells]),
      loss_weights_fg: float32(new Float32Array(k).fill(1), [k]),
      loss_weights_bg: float32(new Float32Array(k).fill(1), [k]),
      loss_weights_max: float32(new Float32Array(k), [k]),
    };
  };
  memory.reset();
  const radRun = await time(rad, radFeeds(frames), runs);
  report.rad = { firstMs: radRun.firstMs, medianMs: radRun.medianMs, peakGiB: await memory.peakGiB(), loss: dataOf(radRun.out.loss, 'loss')[0], fg: Array.from(dataOf(radRun.out.fg, 'fg')) };

  const reference = o.ref && existsSync(path.join(o.ref, 'eps.bin')) ? o.ref : null;
  const load = (name: string) => new Float32Array(new Uint8Array(readFileSync(path.join(reference!, name))).buffer);
  if (reference) {
    report.parity = {
      eps: Object.fromEntries(Object.entries(epsOut).map(([c, out]) => [c, compare(out, load('eps.bin'))])),
      radGrad: compare(dataOf(radRun.out.grad, 'grad'), load('rad.bin')),
      reference: JSON.parse(readFileSync(path.join(reference, 'reference.json'), 'utf8')),
    };
  }

  memory.stop();
  await rad.release();

  // The RAD graph with its fused backwards (unet_rad_cuda, through the native addon) on the same feeds:
  // its gradient against unet_rad's and PyTorch's, and its time.
  if (m.components.unet_rad_cuda && nativeBuild()) {
    try {
      const fused = await NativeSession.open('unet_rad_cuda', pkg.graphPath('unet_rad_cuda'), { ...request, profilePrefix: profilePrefix('fused') });
      try {
        const run = await time(fused, radFeeds(frames), runs);
        const grad = dataOf(run.out.grad, 'grad');
        report.radFused = {
          firstMs: run.firstMs,
          medianMs: run.medianMs,
          gradAgainstUnfused: compare(grad, dataOf(radRun.out.grad, 'grad')),
          ...(reference ? { gradAgainstPyTorch: compare(grad, load('rad.bin')) } : {}),
          loss: dataOf(run.out.loss, 'loss')[0],
          fg: Array.from(dataOf(run.out.fg, 'fg')),
        };
      } finally {
        await fused.release();
      }
    } catch (error) {
      report.radFused = { error: (error as Error).message.slice(0, 500) };
    }
  }

  // RAD graph memory and time by window size (the engine picks a window that fits), each in a
  // session of its own: ONNX Runtime's CUDA arena only grows, so a shared session would report the
  // largest window so far. Sessions are released first; the figure includes the CUDA context. Both
  // graphs: the fused one, which the engine runs on CUDA, keeps no per-head attention maps.
  const byFrames = async (open: () => Promise<GraphRunner & { release(): Promise<void> }>) => {
    const windows: Record<string, unknown> = {};
    for (const f of (o['rad-frames'] ?? '').split(',').filter(Boolean).map(Number)) {
      const sampler = new GpuMemory();
      const session = await open();
      try {
        const run = await time(session, radFeeds(f), 2);
        windows[f] = { firstMs: run.firstMs, medianMs: run.medianMs, peakGiB: await sampler.peakGiB() };
      } catch (error) {
        windows[f] = { error: (error as Error).message.slice(0, 300), peakGiB: await sampler.peakGiB() };
      } finally {
        sampler.stop();
        await session.release();
      }
    }
    return windows;
  };
  report.radByFrames = await byFrames(() => GraphSession.open('unet_rad', pkg.graphPath('unet_rad'), request));
  if (report.radFused && !('error' in (report.radFused as object))) {
    report.radFusedByFrames = await byFrames(() => NativeSession.open('unet_rad_cuda', pkg.graphPath('unet_rad_cuda'), request));
  }
  const text = JSON.stringify(report, null, 1);
  if (o.out) writeFileSync(o.out, text + '\n');
  console.log(text);
}

void main();
