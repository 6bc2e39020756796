/**
 * The engine benchmark (a script, not a test): one complete edit on a synthetic clip, after a
 * warm-up, with per-stage times and model calls per second.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { EditStats } from '../engine';
import { normal } from '../engine/random';
import { defaultModelDir } from './defaults';
import { withEngine } from './local-job';
import { choice, integer } from './options';

/** A smooth synthetic frame sequence (content does not change the cost). */
function syntheticFrames(frames: number, width: number, height: number): Uint8Array[] {
  const noise = normal(1, 0, width * height);
  return Array.from({ length: frames }, (_, f) => {
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      const x = i % width;
      const y = (i / width) | 0;
      rgb[3 * i] = (x + 3 * f) & 255;
      rgb[3 * i + 1] = y & 255;
      rgb[3 * i + 2] = Math.max(0, Math.min(255, 128 + 20 * noise[i]!));
    }
    return rgb;
  });
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time one complete edit (per stage, model calls per second)')
    .option('--model <dir>', 'model package', defaultModelDir())
    .option('--provider <name>', 'cuda or cpu', choice('provider', ['cuda', 'cpu'] as const), 'cuda')
    .option('--device <n>', 'CUDA device index', integer('device'), 0)
    .option('--frames <n>', 'clip length', integer('frames', 2), 16)
    .option('--size <HxW>', 'working size (default: the model native size)')
    .option('--steps <n>', 'denoising steps', integer('steps', 1), 50)
    .option('--inversion-steps <n>', 'inversion steps', integer('inversion-steps', 1), 50)
    .option('--objects <n>', 'regions (RAD objects)', integer('objects', 1), 2)
    .option('--window <n>', 'sliding window frames (default: full clip)', integer('window', 2))
    .option('--stride <n>', 'window stride', integer('stride', 1), 1)
    .option('--max-refinement <n>', 'refinement iterations cap', integer('max-refinement'), 20)
    .option('--json <file>', 'also write the figures as JSON')
    .option('--save-case <dir>', 'write the source frames, the edit and its result (for the PyTorch oracle to redo and compare)')
    .action(async (o) => {
      await withEngine({ modelDir: o.model, provider: o.provider, deviceId: o.device }, async (engine) => {
        const [h, w] = o.size ? String(o.size).split('x').map(Number) : (engine.manifest.defaults?.frame_size ?? [448, 768]);
        const size = { width: w!, height: h! };
        const frames = syntheticFrames(o.frames, size.width, size.height);
        const words = ['star', 'ring', 'circle', 'square'];
        const prompt = 'a red star and a green ring and a blue circle and a white square on a grey background';
        const objects = Array.from({ length: o.objects }, (_, k) => {
          const x = Math.round((k % 2) * size.width * 0.5 + size.width * 0.05);
          const y = Math.round(Math.floor(k / 2) * size.height * 0.5 + size.height * 0.05);
          const box = [x, y, x + Math.round(size.width * 0.4), y + Math.round(size.height * 0.4)] as const;
          return { tokenIndex: engine.tokenizer.findWordTokens(prompt, words[k % 4]!).index, region: { kind: 'boxes' as const, keyframes: [{ frame: 0, box }] } };
        });
        const settings = { steps: o.steps, inversionSteps: o.inversionSteps, window: o.window ?? null, stride: o.stride, maxRefinementIterations: o.maxRefinement };
        const request = { frames, size, prompt, objects, settings };
        const warmStart = performance.now();
        // Every graph runs twice at the edit's shapes first: ONNX Runtime's first run of a shape plans
        // and allocates, its second allocates the planned memory pattern, and only the third runs at
        // speed (on the H200, RAD at 16 frames: 4.9 s, 0.9 s, 0.27 s). RAD runs in the first half of
        // the steps, so 4 steps give it two passes.
        await engine.edit({ ...request, settings: { ...settings, steps: 4, inversionSteps: 2, maxRefinementIterations: 0 } });
        const warmupMs = performance.now() - warmStart;
        const started = performance.now();
        const { stats, frames: edited } = await engine.edit(request);
        const totalMs = performance.now() - started;
        if (o.saveCase) saveCase(o.saveCase, { size, prompt, objects, settings }, frames, edited);
        report({ model: engine.manifest.name, precision: engine.manifest.precision, provider: engine.provider, frames: o.frames, size, settings, objects: o.objects, warmupMs, totalMs, stats }, o.json);
      });
    });
}

/** The edit as models/scripts/bench_oracle.py --case reads it: case.json, source.rgb and edited.rgb
 *  (frames after one another, RGB24 rows). */
function saveCase(dir: string, edit: Record<string, unknown>, source: readonly Uint8Array[], edited: readonly Uint8Array[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'case.json'), JSON.stringify({ frames: source.length, ...edit }, null, 1) + '\n');
  writeFileSync(path.join(dir, 'source.rgb'), Buffer.concat(source));
  writeFileSync(path.join(dir, 'edited.rgb'), Buffer.concat(edited));
}

function report(figures: { totalMs: number; warmupMs: number; stats: EditStats } & Record<string, unknown>, json?: string): void {
  const { stats, totalMs } = figures;
  const unetCalls = stats.epsCalls + stats.radPasses;
  console.log(`model ${figures.model} (${figures.precision}) on ${figures.provider}; ${figures.frames} frames at ${(figures.size as { width: number; height: number }).width}x${(figures.size as { height: number }).height}`);
  console.log(`warm-up ${(figures.warmupMs / 1000).toFixed(1)} s (session initialisation and first runs)`);
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2).padStart(8)} s`;
  for (const [stage, ms] of Object.entries(stats.msByStage)) {
    console.log(`  ${stage.padEnd(8)} ${seconds(ms)} (model calls ${seconds(stats.callMsByStage[stage as keyof EditStats['callMsByStage']]).trim()})`);
  }
  const staged = Object.values(stats.msByStage).reduce((a, b) => a + b, 0);
  console.log(`  total    ${seconds(totalMs)} (outside the stages: checks, planning, the worker's messages ${seconds(totalMs - staged).trim()})`);
  console.log(`ε calls ${stats.epsCalls}, RAD passes ${stats.radPasses} (refinement iterations ${stats.refinementIterations}, skipped updates ${stats.skippedRadUpdates}), VAE calls ${stats.vaeCalls}`);
  for (const [kind, times] of Object.entries(stats.callMs)) if (times.length > 1) console.log(`  ${kind.padEnd(9)} ${callSummary(times)}`);
  console.log(`UNet calls per second ${(unetCalls / ((stats.callMsByStage.invert + stats.callMsByStage.edit) / 1000)).toFixed(2)}`);
  if (json) writeFileSync(json, JSON.stringify(figures, null, 1) + '\n');
}

/** A kind of call's count, first and median time and slowest: a slow stage's calls are all slow, or a few are. */
function callSummary(times: readonly number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  return `${times.length} calls: first ${ms(times[0]!)}, median ${ms(sorted[sorted.length >> 1]!)}, slowest ${ms(sorted[sorted.length - 1]!)}`;
}
