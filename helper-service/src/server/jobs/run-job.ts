/**
 * One edit job from its spec to a finished video file: probe and check the source, decode the segment
 * at the working size (for the model) and at full size (for the composite), map the region tracks,
 * run the engine, composite the edit over the original frames with feathered region masks (so outside
 * the regions the result is the source, pixel for pixel), encode at the source's rate, size and frame
 * count with its audio, and write previews decoded from the finished file.
 */
import path from 'node:path';
import type { Engine, ObjectRegion } from '../../engine';
import { ValidationError } from '../../errors';
import {
  chooseWorkingSize,
  clipMasksOf,
  compositeOverSource,
  decodeSegment,
  encodeVideo,
  loadRegionTrack,
  probeClip,
  regionMasksAt,
  unionMasks,
  writePreviewFrames,
  type ClipInfo,
  type LoadedRegionTrack,
} from '../../media';
import { boxInsideFrame, scaleBox, type Size } from '../../regions';
import type { JobOutput, JobSpec, JobStage, Quality, RegionTrack } from '../protocol/messages';
import type { PathPolicy } from '../security';
import type { QualityPreset } from './quality';

export interface JobEnvironment {
  engine: Engine;
  paths: PathPolicy;
  maxFrames: number;
  qualities: Record<Quality, QualityPreset>;
}

export type JobProgress =
  | { kind: 'stage'; stage: JobStage }
  | { kind: 'progress'; stage: JobStage; step: number; totalSteps: number; fraction: number; etaMs: number | null; elapsedMs: number };

const PREVIEW_WIDTH = 640;
const OUTPUT_EXTENSION = { prores: '.mov', h264: '.mp4', png: '.mov' } as const;

function checkSegment(spec: JobSpec, clip: ClipInfo, maxFrames: number): void {
  const { startFrame, frameCount } = spec.source;
  if (startFrame + frameCount > clip.frameCount) {
    throw new ValidationError(
      'INVALID_SETTINGS',
      `The segment (frames ${startFrame} to ${startFrame + frameCount - 1}) goes past the end of the clip (${clip.frameCount} frames).`,
    );
  }
  if (frameCount > maxFrames) {
    throw new ValidationError(
      'CLIP_TOO_LONG',
      `The segment has ${frameCount} frames; this helper edits at most ${maxFrames} at a time. Trim the clip or raise the limit.`,
    );
  }
}

function checkObjects(spec: JobSpec, engine: Engine): void {
  if (spec.mode === 'replace' && spec.objects.length === 0) {
    throw new ValidationError('INVALID_SETTINGS', 'Mark at least one region: replace mode edits only inside regions.');
  }
  spec.objects.forEach((object, i) => {
    if (object.word === undefined) return;
    const found = engine.tokenizer.findWordTokens(spec.prompt, object.word); // WORD_NOT_IN_PROMPT if absent
    if (!found.positions.includes(object.tokenIndex)) {
      throw new ValidationError(
        'TOKEN_INDEX_INVALID',
        `Region ${i + 1} names "${object.word}" but points at token ${object.tokenIndex}; pick the word again.`,
      );
    }
  });
}

function checkTrack(track: RegionTrack, paths: PathPolicy, clip: Size, index: number): RegionTrack {
  if (track.kind === 'mask-sequence') return { ...track, dir: paths.readableDir(track.dir) };
  if (track.kind === 'matte-video') return { ...track, path: paths.readableFile(track.path) };
  const outside = track.keyframes.find((k) => !boxInsideFrame(k.box, clip));
  if (outside) {
    throw new ValidationError(
      'REGION_OUT_OF_FRAME',
      `Region ${index + 1} at frame ${outside.frame} reaches outside the ${clip.width}x${clip.height} frame or has no area.`,
    );
  }
  return track;
}

/** A clip-space region as the engine takes it: in working-frame pixels. */
function workingRegion(track: LoadedRegionTrack, clip: Size, work: Size): ObjectRegion {
  if (track.kind === 'boxes') {
    return { kind: 'boxes', keyframes: track.boxes.map((box, frame) => ({ frame, box: scaleBox(box, clip, work) })) };
  }
  return { kind: 'masks', masks: regionMasksAt(track, clip, work) };
}

/** The checks that need no pixels: run when a job is submitted (so bad input is answered at once) and again when it starts. */
export async function precheckJob(spec: JobSpec, env: JobEnvironment, signal?: AbortSignal): Promise<{ sourcePath: string; clip: ClipInfo; tracks: RegionTrack[] }> {
  const sourcePath = env.paths.readableFile(spec.source.path);
  const clip = await probeClip(sourcePath, signal);
  checkSegment(spec, clip, env.maxFrames);
  checkObjects(spec, env.engine);
  const tracks = spec.objects.map((o, i) => checkTrack(o.region, env.paths, { width: clip.width, height: clip.height }, i));
  if (spec.previewDir) env.paths.previewDir(spec.previewDir);
  return { sourcePath, clip, tracks };
}

export async function runJob(
  id: string,
  spec: JobSpec,
  env: JobEnvironment,
  report: (progress: JobProgress) => void,
  signal: AbortSignal,
): Promise<JobOutput> {
  const { engine, paths } = env;
  // 1. Check everything we can before reading pixels.
  report({ kind: 'stage', stage: 'prepare' });
  const { sourcePath, clip, tracks } = await precheckJob(spec, env, signal);
  const quality = env.qualities[spec.quality];
  const clipSize = { width: clip.width, height: clip.height };
  const workSize = chooseWorkingSize(clipSize, { multiple: engine.manifest.frame.multiple, maxPixels: quality.maxPixels });
  const { startFrame, frameCount } = spec.source;
  const loaded = await Promise.all(tracks.map((t) => loadRegionTrack(t, clipSize, frameCount, signal)));

  // 2. Decode the segment for the model and for the composite.
  const decode = { startFrame, frameCount, frameRate: clip.frameRate, maxFrames: env.maxFrames, signal };
  const working = await decodeSegment(sourcePath, { ...decode, size: workSize });
  const original = await decodeSegment(sourcePath, decode);

  // 3. Edit.
  const replace = spec.mode === 'replace';
  let engineStage: JobStage | null = null;
  const result = await engine.edit(
    {
      frames: working.frames,
      size: workSize,
      prompt: spec.prompt,
      objects: spec.objects.map((o, i) => ({ tokenIndex: o.tokenIndex, region: workingRegion(loaded[i]!, clipSize, workSize) })),
      settings: { steps: quality.steps, inversionSteps: quality.steps, ...spec.settings, irjs: replace },
    },
    {
      signal,
      onProgress: (p) => {
        if (p.stage !== engineStage) report({ kind: 'stage', stage: (engineStage = p.stage) });
        report({ kind: 'progress', stage: p.stage, step: p.step, totalSteps: p.totalSteps, fraction: p.fraction, etaMs: p.etaMs, elapsedMs: p.elapsedMs });
      },
    },
  );

  // 4. Composite over the full-resolution source: outside the regions the result is the source.
  report({ kind: 'stage', stage: 'composite' });
  const everywhere = () => new Uint8Array(clip.width * clip.height).fill(1);
  const masks = replace ? unionMasks(loaded.map((t) => clipMasksOf(t, clipSize))) : original.frames.map(everywhere);
  const composite = compositeOverSource({
    source: original,
    edited: { width: workSize.width, height: workSize.height, frames: result.frames },
    regionMasks: masks,
    featherPx: replace ? Math.max(2, Math.round(clip.width / 100)) : 0,
  });

  // 5. Encode next to nothing else: a temporary name, renamed when complete.
  report({ kind: 'stage', stage: 'write' });
  const stem = (spec.output.name ?? path.parse(sourcePath).name).replace(/[^\w\- .]/gu, '_');
  const outPath = paths.outputFile(`${stem}-reatco-${id}${OUTPUT_EXTENSION[spec.output.codec]}`);
  await encodeVideo({
    frames: composite.frames,
    width: composite.width,
    height: composite.height,
    frameRate: clip.frameRate,
    outPath,
    codec: spec.output.codec,
    colorMatrix: clip.colorMatrix,
    signal,
    ...(clip.hasAudio ? { audioFrom: { path: sourcePath, startSec: (startFrame * clip.frameRate.den) / clip.frameRate.num, durationSec: (frameCount * clip.frameRate.den) / clip.frameRate.num } } : {}),
  });

  const output: JobOutput = {
    path: outPath,
    codec: spec.output.codec,
    width: composite.width,
    height: composite.height,
    frames: composite.frames.length,
    frameRate: clip.frameRate,
    hasAudio: clip.hasAudio,
  };
  if (spec.previewDir) output.previews = await writePreviews(id, spec, sourcePath, outPath, clip, paths, signal);
  return output;
}

/** Before/after previews (first, middle, last frame), the "after" decoded from the finished file. */
async function writePreviews(id: string, spec: JobSpec, sourcePath: string, outPath: string, clip: ClipInfo, paths: PathPolicy, signal: AbortSignal) {
  const dir = paths.previewDir(spec.previewDir!);
  const n = spec.source.frameCount;
  const picks = [...new Set([0, Math.floor((n - 1) / 2), n - 1])];
  const width = Math.min(PREVIEW_WIDTH, clip.width);
  const size = { width: width - (width % 2), height: Math.max(2, Math.round((clip.height * width) / clip.width / 2) * 2) };
  const result = await probeClip(outPath, signal);
  const pick = async (file: string, start: number, rate = clip.frameRate) => {
    const frames = await decodeSegment(file, { startFrame: start, frameCount: n, frameRate: rate, size, signal });
    return picks.map((i) => frames.frames[i]!);
  };
  const before = await writePreviewFrames(await pick(sourcePath, spec.source.startFrame), size, dir, `reatco-${id}-before`, signal);
  const after = await writePreviewFrames(await pick(outPath, 0, result.frameRate), size, dir, `reatco-${id}-after`, signal);
  return { before, after };
}
