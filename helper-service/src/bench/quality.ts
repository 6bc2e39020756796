/**
 * The spatial-control benchmark (a script that prints and writes figures, not a test): edits of the
 * shapes world (models/shapes-benchmark, never seen in training) with the ablation of the paper
 * (no RAD/no IRJS, RAD only, IRJS only, RAD+IRJS), scored per frame:
 *   spatial alignment  the requested object, found by colour, has its centroid inside its region;
 *   object correctness it is found with the requested shape;
 *   background         PSNR and SSIM outside the regions against the source (the engine's raw output,
 *                      before the helper's composite, which makes it pixel-identical by design);
 *   temporal           frame-to-frame stability of the object's offset from its region and its area.
 *
 *   node helper-service/dist/src/bench/quality.js [--model DIR] [--cases 8] [--steps 25] [--provider cpu]
 *     [--variants 'RAD+IRJS,IRJS only'] [--out PATH]     (writes PATH.json and PATH.md)
 *   node helper-service/dist/src/bench/quality.js --merge A.json,B.json --out PATH   (one table from
 *     runs that scored different variants of the same cases)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MODELS_DIR, TRAINED_MODEL_DIR } from '../cli/defaults';
import { Engine } from '../engine';
import { decodeSegment } from '../media';
import { interpolateBox, type BoxKeyframe, type BoxPx, type Size } from '../regions';
import { classifyShape, findColor, insideBox, mean, outsideBoxes, psnr, ssim, std, type Shape } from './scoring';

interface Case {
  index: number;
  kind: 'replace' | 'add';
  moving: boolean;
  source_prompt: string;
  prompt: string;
  target: { color: string; rgb: number[]; shape: Shape; word: string };
  keyframes: { frame: number; box: number[] }[];
  source_objects: { color: string; rgb: number[]; shape: Shape; boxes: number[][] }[];
  clip: string;
}

const VARIANTS = {
  baseline: { rad: false, irjs: false },
  'RAD only': { rad: true, irjs: false },
  'IRJS only': { rad: false, irjs: true },
  'RAD+IRJS': { rad: true, irjs: true },
} as const;
type Variant = keyof typeof VARIANTS;

interface CaseScore {
  case: number;
  kind: string;
  moving: boolean;
  variant: Variant;
  alignedFrames: number;
  correctFrames: number;
  foundFrames: number;
  frames: number;
  psnr: number;
  ssim: number;
  offsetStd: number | null;
  areaCv: number | null;
}

function scoreFrames(frames: Uint8Array[], source: Uint8Array[], size: Size, c: Case, keyframes: BoxKeyframe[]): Omit<CaseScore, 'case' | 'kind' | 'moving' | 'variant'> {
  let aligned = 0;
  let correct = 0;
  let found = 0;
  const offsets: number[][] = [];
  const areas: number[] = [];
  const psnrs: number[] = [];
  const ssims: number[] = [];
  frames.forEach((frame, f) => {
    const box = interpolateBox(keyframes, f);
    const object = findColor(frame, size, c.target.rgb);
    const expectedArea = ((box[2] - box[0]) * (box[3] - box[1])) / 4;
    if (object && object.area >= 0.15 * expectedArea) {
      found++;
      if (insideBox(object.cx, object.cy, box)) aligned++;
      if (classifyShape(object) === c.target.shape) correct++;
      offsets.push([object.cx - (box[0] + box[2]) / 2, object.cy - (box[1] + box[3]) / 2]);
      areas.push(object.area);
    }
    const mask = outsideBoxes(size, [box], 3);
    psnrs.push(psnr(frame, source[f]!, mask));
    ssims.push(ssim(frame, source[f]!, size, mask));
  });
  const offsetStd = offsets.length > 1 ? Math.hypot(std(offsets.map((o) => o[0]!)), std(offsets.map((o) => o[1]!))) : null;
  return {
    alignedFrames: aligned,
    correctFrames: correct,
    foundFrames: found,
    frames: frames.length,
    psnr: mean(psnrs.filter(Number.isFinite)) || Infinity,
    ssim: mean(ssims),
    offsetStd,
    areaCv: areas.length > 1 ? std(areas) / mean(areas) : null,
  };
}

function summarize(scores: CaseScore[]) {
  const frames = scores.reduce((s, c) => s + c.frames, 0);
  const pct = (n: number, d: number) => (d ? (100 * n) / d : NaN);
  const withOffsets = scores.filter((s) => s.offsetStd !== null);
  return {
    cases: scores.length,
    alignedFramesPct: pct(scores.reduce((s, c) => s + c.alignedFrames, 0), frames),
    alignedCasesPct: pct(scores.filter((c) => c.alignedFrames >= c.frames / 2).length, scores.length),
    correctFramesPct: pct(scores.reduce((s, c) => s + c.correctFrames, 0), frames),
    foundFramesPct: pct(scores.reduce((s, c) => s + c.foundFrames, 0), frames),
    psnrDb: mean(scores.map((s) => s.psnr).filter(Number.isFinite)),
    ssim: mean(scores.map((s) => s.ssim)),
    offsetStdPx: mean(withOffsets.map((s) => s.offsetStd!)),
    areaCv: mean(withOffsets.map((s) => s.areaCv!)),
  };
}

async function main(): Promise<void> {
  const { values: o } = parseArgs({
    options: {
      model: { type: 'string', default: TRAINED_MODEL_DIR },
      benchmark: { type: 'string', default: path.join(MODELS_DIR, 'shapes-benchmark') },
      cases: { type: 'string', default: '8' },
      steps: { type: 'string', default: '25' },
      provider: { type: 'string', default: 'cpu' },
      variants: { type: 'string', default: Object.keys(VARIANTS).join(',') },
      out: { type: 'string' },
      merge: { type: 'string' },
    },
  });
  if (o.merge) return mergeReports(o.merge.split(','), o.out);
  const spec = JSON.parse(readFileSync(path.join(o.benchmark!, 'cases.json'), 'utf8')) as { frames: number; size: number; cases: Case[] };
  const cases = spec.cases.slice(0, Number(o.cases));
  const size = { width: spec.size, height: spec.size };
  const variants = o.variants!.split(',') as Variant[];
  const unknown = variants.filter((v) => !(v in VARIANTS));
  if (unknown.length) throw new Error(`unknown variant ${unknown.join(', ')}; known: ${Object.keys(VARIANTS).join(', ')}`);
  const steps = Number(o.steps);
  const engine = await Engine.start({ modelDir: o.model!, provider: o.provider as 'cpu' | 'cuda' });
  const scores: CaseScore[] = [];
  const checks: { found: number; shapeRight: number; aligned: number; total: number } = { found: 0, shapeRight: 0, aligned: 0, total: 0 };
  const started = performance.now();
  try {
    for (const c of cases) {
      const clip = await decodeSegment(path.join(o.benchmark!, c.clip), { startFrame: 0, frameCount: spec.frames, frameRate: { num: 10, den: 1 } });
      // The scorer against the renderer's ground truth: every source object in every source frame.
      for (const object of c.source_objects) {
        clip.frames.forEach((frame, f) => {
          const found = findColor(frame, size, object.rgb);
          checks.total++;
          if (!found) return;
          checks.found++;
          if (classifyShape(found) === object.shape) checks.shapeRight++;
          if (insideBox(found.cx, found.cy, object.boxes[f] as unknown as BoxPx)) checks.aligned++;
        });
      }
      const keyframes = c.keyframes.map((k) => ({ frame: k.frame, box: k.box as unknown as BoxPx }));
      const tokenIndex = engine.tokenizer.findWordTokens(c.prompt, c.target.word).index;
      for (const variant of variants) {
        const result = await engine.edit({
          frames: clip.frames,
          size,
          prompt: c.prompt,
          objects: [{ tokenIndex, region: { kind: 'boxes', keyframes } }],
          settings: { steps, inversionSteps: steps, ...VARIANTS[variant], seed: c.index },
        });
        const score = { case: c.index, kind: c.kind, moving: c.moving, variant, ...scoreFrames(result.frames, clip.frames, size, c, keyframes) };
        scores.push(score);
        console.error(`case ${c.index} (${c.kind}, ${c.moving ? 'moving' : 'static'}) ${variant}: aligned ${score.alignedFrames}/${score.frames}, correct ${score.correctFrames}, PSNR ${score.psnr.toFixed(1)} dB`);
      }
    }
  } finally {
    await engine.close();
  }
  const meta = { model: engine.manifest.name, provider: engine.provider, steps, cases: cases.length, minutes: (performance.now() - started) / 60000 };
  const scorerCheck = { objectsFoundPct: (100 * checks.found) / checks.total, shapeCorrectPct: (100 * checks.shapeRight) / checks.found, centroidInBoxPct: (100 * checks.aligned) / checks.found };
  writeReport({ ...meta, scorerCheck, table: tabulate(scores), scores }, o.out);
}

type Report = { model: string; provider: string; steps: number; cases: number; minutes: number; scorerCheck: Record<string, number>; table: ReturnType<typeof tabulate>; scores: CaseScore[] };

/** Each variant's summary over all cases and by kind of region track, in the ablation's order. */
function tabulate(scores: CaseScore[]) {
  const variants = (Object.keys(VARIANTS) as Variant[]).filter((v) => scores.some((s) => s.variant === v));
  return Object.fromEntries(
    variants.map((v) => [
      v,
      {
        all: summarize(scores.filter((s) => s.variant === v)),
        static: summarize(scores.filter((s) => s.variant === v && !s.moving)),
        moving: summarize(scores.filter((s) => s.variant === v && s.moving)),
      },
    ]),
  );
}

function writeReport(report: Report, out: string | undefined): void {
  const markdown = renderMarkdown(report);
  console.log(markdown);
  if (out) {
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(`${out}.json`, JSON.stringify(report, null, 1) + '\n');
    writeFileSync(`${out}.md`, markdown + '\n');
  }
}

/** One report from runs of the same model and cases that scored different variants (a long
 *  benchmark split over several sittings). */
function mergeReports(files: string[], out: string | undefined): void {
  const reports = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Report);
  const [first] = reports;
  for (const r of reports) {
    if (r.model !== first!.model || r.steps !== first!.steps || r.cases !== first!.cases) throw new Error(`${files.join(', ')}: not the same model, steps and cases`);
  }
  const scores = reports.flatMap((r) => r.scores);
  const seen = new Set(scores.map((s) => `${s.case} ${s.variant}`));
  if (seen.size !== scores.length) throw new Error(`${files.join(', ')}: a variant is scored twice`);
  const minutes = reports.reduce((sum, r) => sum + r.minutes, 0);
  writeReport({ ...first!, minutes, table: tabulate(scores), scores }, out);
}

function renderMarkdown(report: Report): string {
  const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : String(v));
  const lines = [
    `Spatial-control benchmark: model ${report.model} on ${report.provider}, ${report.cases} cases, ${report.steps} inversion + ${report.steps} edit steps (${f(report.minutes)} min)`,
    '',
    `Scorer check on the source clips (renderer ground truth): objects found ${f(report.scorerCheck.objectsFoundPct!)}%, shape right ${f(report.scorerCheck.shapeCorrectPct!)}%, centroid in its box ${f(report.scorerCheck.centroidInBoxPct!)}%.`,
    '',
    '| variant | tracks | aligned frames % | aligned cases % | right object % | found % | background PSNR dB | SSIM | offset std px | area CV |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [variant, rows] of Object.entries(report.table)) {
    for (const [tracks, s] of Object.entries(rows)) {
      lines.push(`| ${variant} | ${tracks} | ${f(s.alignedFramesPct)} | ${f(s.alignedCasesPct)} | ${f(s.correctFramesPct)} | ${f(s.foundFramesPct)} | ${f(s.psnrDb)} | ${f(s.ssim, 3)} | ${f(s.offsetStdPx)} | ${f(s.areaCv, 2)} |`);
    }
  }
  return lines.join('\n');
}

void main();
