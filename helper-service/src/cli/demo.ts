/**
 * `reatco demo` (the README's first command): edits the sample clip bundled with the default model
 * and writes the edited video and a before/after image with the regions drawn.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { interpolateBox, type BoxKeyframe } from '../regions';
import { decodeSegment, probeClip, sideBySide } from '../media';
import type { JobSpecInput } from '../server/protocol';
import { defaultModelDir } from './defaults';
import { runLocalJob, withEngine } from './local-job';
import { choice } from './options';

interface DemoDescription {
  clip: string;
  sourcePrompt: string;
  prompt: string;
  objects: { word: string; keyframes: BoxKeyframe[] }[];
  quality?: 'draft' | 'standard' | 'high';
  settings?: JobSpecInput['settings'];
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('edit the sample clip of the default model and write the result and a before/after image')
    .option('--model <dir>', 'model package (with a demo/ folder)', defaultModelDir())
    .option('--out-dir <dir>', 'where to write the results', 'reatco-demo')
    .option('--provider <name>', 'cuda or cpu', choice('provider', ['cuda', 'cpu'] as const), 'cuda')
    .action(async (o) => {
      const demoFile = path.join(o.model, 'demo', 'demo.json');
      if (!existsSync(demoFile)) throw new Error(`The model at ${o.model} has no demo (demo/demo.json).`);
      const demo = JSON.parse(readFileSync(demoFile, 'utf8')) as DemoDescription;
      const clipPath = path.resolve(path.dirname(demoFile), demo.clip);
      const clip = await probeClip(clipPath);
      const outDir = path.resolve(o.outDir);
      await mkdir(outDir, { recursive: true });
      console.log(`Editing ${path.relative(process.cwd(), clipPath)} (${clip.frameCount} frames, ${clip.width}x${clip.height}):`);
      console.log(`  "${demo.sourcePrompt}" -> "${demo.prompt}"`);
      const started = performance.now();
      await withEngine({ modelDir: o.model, provider: o.provider }, async (engine) => {
        const objects = demo.objects.map((object) => ({
          word: object.word,
          tokenIndex: engine.tokenizer.findWordTokens(demo.prompt, object.word).index,
          region: { kind: 'boxes' as const, keyframes: object.keyframes.map(({ frame, box }) => ({ frame, box: [...box] as [number, number, number, number] })) },
        }));
        const spec: JobSpecInput = {
          source: { path: clipPath, startFrame: 0, frameCount: clip.frameCount },
          prompt: demo.prompt,
          sourcePrompt: demo.sourcePrompt,
          objects,
          quality: demo.quality ?? 'standard',
          ...(demo.settings ? { settings: demo.settings } : {}),
          output: { codec: 'h264' },
        };
        const video = path.join(outDir, 'demo-edit.mp4');
        const controller = new AbortController();
        process.once('SIGINT', () => controller.abort());
        const output = await runLocalJob(engine, spec, { modelDir: o.model, provider: o.provider, maxFrames: 64, outPath: video }, controller.signal);
        const middle = Math.floor(clip.frameCount / 2);
        const size = { width: clip.width, height: clip.height };
        const before = await decodeSegment(clipPath, { startFrame: middle, frameCount: 1, frameRate: clip.frameRate });
        const after = await decodeSegment(output.path, { startFrame: middle, frameCount: 1, frameRate: clip.frameRate });
        const image = await sideBySide({
          before: before.frames[0]!,
          after: after.frames[0]!,
          size,
          regions: demo.objects.map((object) => interpolateBox(object.keyframes, middle)),
          outPath: path.join(outDir, 'demo-before-after.png'),
        });
        console.log(`Done in ${((performance.now() - started) / 1000).toFixed(0)} s on the ${engine.provider.toUpperCase()} with model ${engine.manifest.name}.`);
        console.log(`  edited video:      ${output.path}`);
        console.log(`  before | after:    ${image}`);
      });
    });
}
