/**
 * Single-graph check (a script, not a test): runs a package's ε and RAD graphs on one provider with
 * the inputs of models/scripts/gpu_reference.py (drawn from the same portable generator), times them,
 * samples peak GPU memory with nvidia-smi, and compares with the PyTorch outputs that script wrote.
 *
 *   node helper-service/dist/src/bench/graph-check.js --model DIR --ref DIR [--provider cuda]
 *        [--frames 4] [--height 448] [--width 768] [--rad-frames 4,8,16] [--runs 10] [--out file.json]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readModelPackage } from '../engine/model-package';
import { rankWeights } from '../engine/rad/masks';
import { normal } from '../engine/random';
import { GraphSession, dataOf, float32, int64, type Feeds, type ProviderName } from '../engine/sessions/ort';
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

async function time(session: GraphSession, feeds: Feeds, runs: number) {
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

  const opened = performance.now();
  const unet = await GraphSession.open('unet', pkg.graphPath('unet'), request);
  const rad = await GraphSession.open('unet_rad', pkg.graphPath('unet_rad'), request);
  report.sessionsMs = performance.now() - opened;

  const context = normal(98, 0, 2 * 77 * d);
  memory.reset();
  const eps = await time(
    unet,
    {
      sample: float32(normal(99, 0, 2 * 4 * frames * h * w), [2, 4, frames, h, w]),
      timestep: float32(Float32Array.of(501), [1]),
      encoder_hidden_states: float32(context, [2, 77, d]),
    },
    runs,
  );
  report.eps = { firstMs: eps.firstMs, medianMs: eps.medianMs, peakGiB: await memory.peakGiB() };

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

  if (o.ref && existsSync(path.join(o.ref, 'eps.bin'))) {
    const load = (name: string) => new Float32Array(new Uint8Array(readFileSync(path.join(o.ref!, name))).buffer);
    report.parity = {
      eps: compare(dataOf(eps.out.noise_pred, 'noise_pred'), load('eps.bin')),
      radGrad: compare(dataOf(radRun.out.grad, 'grad'), load('rad.bin')),
      reference: JSON.parse(readFileSync(path.join(o.ref, 'reference.json'), 'utf8')),
    };
  }

  // RAD graph memory and time by window size (the engine picks a window that fits).
  const windows: Record<string, unknown> = {};
  for (const f of (o['rad-frames'] ?? '').split(',').filter(Boolean).map(Number)) {
    memory.reset();
    try {
      const run = await time(rad, radFeeds(f), 2);
      windows[f] = { firstMs: run.firstMs, medianMs: run.medianMs, peakGiB: await memory.peakGiB() };
    } catch (error) {
      windows[f] = { error: (error as Error).message.slice(0, 300), peakGiB: await memory.peakGiB() };
    }
  }
  report.radByFrames = windows;
  memory.stop();
  await unet.release();
  await rad.release();
  const text = JSON.stringify(report, null, 1);
  if (o.out) writeFileSync(o.out, text + '\n');
  console.log(text);
}

void main();
