import path from 'node:path';
import type { Command } from 'commander';
import { ValidationError } from '../errors';
import { probeClip } from '../media';
import type { JobSpecInput } from '../server/protocol';
import { defaultModelDir } from './defaults';
import { runLocalJob, withEngine } from './local-job';
import { choice, collect, integer, number, parseMaskDirs, parseRegions } from './options';

export function registerEdit(program: Command): void {
  program
    .command('edit <video>')
    .description('edit a clip: put the words of --prompt where --region says')
    .requiredOption('--prompt <text>', 'what the shot should show')
    .option('--source-prompt <text>', 'what it shows now (kept with the job)')
    .option('--region <word:x1,y1,x2,y2[@frame]>', 'a box for an object word, in clip pixels; repeat with @frame for a moving box', collect, [])
    .option('--mask-dir <word:dir>', 'a folder of PNG mattes for an object word', collect, [])
    .requiredOption('--out <file>', 'the edited video (.mov: ProRes, .mp4: H.264)')
    .option('--start <frame>', 'first frame of the segment', integer('start'), 0)
    .option('--frames <n>', 'frames to edit (default: to the end of the clip)', integer('frames', 1))
    .option('--mode <mode>', 'replace (keep everything outside the regions) or global', choice('mode', ['replace', 'global'] as const), 'replace')
    .option('--quality <q>', 'draft, standard or high', choice('quality', ['draft', 'standard', 'high'] as const), 'standard')
    .option('--steps <n>', 'denoising (and inversion) steps', integer('steps', 1))
    .option('--guidance <w>', 'classifier-free guidance scale', number('guidance'))
    .option('--seed <n>', 'random seed', integer('seed'))
    .option('--window <n>', 'frames per sliding window (default: the whole segment)', integer('window', 1))
    .option('--stride <n>', 'frames between windows', integer('stride', 1))
    .option('--codec <codec>', 'prores, h264 or png (default from the --out extension)', choice('codec', ['prores', 'h264', 'png'] as const))
    .option('--model <dir>', 'model package', defaultModelDir())
    .option('--provider <name>', 'cuda or cpu', choice('provider', ['cuda', 'cpu'] as const), 'cuda')
    .option('--max-frames <n>', 'longest segment allowed', integer('max-frames', 1), 64)
    .action(async (video: string, o) => {
      const source = path.resolve(video);
      const regions = parseRegions(o.region);
      const masks = parseMaskDirs(o.maskDir);
      if (o.mode === 'replace' && regions.size + masks.size === 0) {
        throw new ValidationError('INVALID_SETTINGS', 'Give at least one --region or --mask-dir (or --mode global).');
      }
      const clip = await probeClip(source);
      const frameCount = o.frames ?? clip.frameCount - o.start;
      await withEngine({ modelDir: o.model, provider: o.provider }, async (engine) => {
        const objects = [
          ...[...regions].map(([word, keyframes]) => ({ word, keyframes: { kind: 'boxes' as const, keyframes } })),
          ...[...masks].map(([word, dir]) => ({ word, keyframes: { kind: 'mask-sequence' as const, dir: path.resolve(dir) } })),
        ].map(({ word, keyframes }) => {
          const found = engine.tokenizer.findWordTokens(o.prompt, word);
          if (found.multiToken) console.warn(`note: "${word}" is ${found.tokens.length} tokens; RAD steers its first one ("${found.tokens[0]}").`);
          return { word, tokenIndex: found.index, region: keyframes };
        });
        const settings = {
          ...(o.steps ? { steps: o.steps, inversionSteps: o.steps } : {}),
          ...(o.guidance !== undefined ? { guidanceScale: o.guidance } : {}),
          ...(o.seed !== undefined ? { seed: o.seed } : {}),
          ...(o.window ? { window: o.window } : {}),
          ...(o.stride ? { stride: o.stride } : {}),
        };
        const codec = o.codec ?? (path.extname(o.out).toLowerCase() === '.mp4' ? 'h264' : 'prores');
        const spec: JobSpecInput = {
          source: { path: source, startFrame: o.start, frameCount },
          prompt: o.prompt,
          ...(o.sourcePrompt ? { sourcePrompt: o.sourcePrompt } : {}),
          objects,
          mode: o.mode,
          quality: o.quality,
          settings,
          output: { codec },
        };
        const controller = new AbortController();
        process.once('SIGINT', () => controller.abort());
        const output = await runLocalJob(engine, spec, { modelDir: o.model, provider: o.provider, maxFrames: o.maxFrames, outPath: o.out }, controller.signal);
        console.log(`Wrote ${output.path} (${output.frames} frames, ${output.width}x${output.height}${output.hasAudio ? ', with audio' : ''}).`);
      });
    });
}
