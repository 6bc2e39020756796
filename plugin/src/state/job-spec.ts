/** The job the panel submits, built from its state and checked with the shared schema before sending. */
import { jobSpecSchema, type JobSpecInput } from '@reatco/helper-service/protocol';
import { regionProblem, toEditObject } from '../regions/region';
import type { PanelState } from './panel-state';

export type JobBuild = { readonly ok: true; readonly job: JobSpecInput } | { readonly ok: false; readonly problem: string };

export function buildJob(state: PanelState, previewDir: string): JobBuild {
  const { clip, options } = state;
  if (!clip) return { ok: false, problem: state.selectionMessage ?? 'Select a video clip in the timeline.' };
  if (clip.problem) return { ok: false, problem: clip.problem };
  if (!state.prompt.trim()) return { ok: false, problem: 'Type what the shot should show in "Edited prompt".' };
  if (options.mode === 'replace' && state.regions.length === 0) {
    return { ok: false, problem: 'Click the object word in the edited prompt and draw where it must be (or choose Global mode).' };
  }
  const problem = state.regions.map(regionProblem).find((p) => p !== null);
  if (problem) return { ok: false, problem };
  const settings = {
    guidanceScale: options.guidanceScale,
    seed: options.seed,
    ...(options.steps !== null ? { steps: options.steps, inversionSteps: options.steps } : {}),
  };
  const job: JobSpecInput = {
    source: { path: clip.clip.mediaPath, startFrame: clip.segment.startFrame, frameCount: clip.segment.frameCount },
    prompt: state.prompt.trim(),
    ...(state.sourcePrompt.trim() ? { sourcePrompt: state.sourcePrompt.trim() } : {}),
    objects: state.regions.map(toEditObject),
    mode: options.mode,
    quality: options.quality,
    settings,
    output: { codec: 'prores' },
    previewDir,
  };
  const checked = jobSpecSchema.safeParse(job);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    return { ok: false, problem: `The edit is not valid (${issue.path.join('.')}: ${issue.message}).` };
  }
  return { ok: true, job };
}
