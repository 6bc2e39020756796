import { jobSpecSchema } from '@reatco/helper-service/protocol';
import type { TimelineClip } from '../src/host/adapter';
import { framesToTicks } from '../src/host/ticks';
import { newRegion } from '../src/regions/region';
import { buildJob } from '../src/state/job-spec';
import { initialState, type PanelState } from '../src/state/panel-state';

const RATE = { num: 24000, den: 1001 };
const clip: TimelineClip = {
  key: 'V1@0',
  name: 'shot.mov',
  mediaPath: '/media/shot.mov',
  trackIndex: 0,
  start: 0n,
  end: framesToTicks(24, RATE),
  sourceIn: framesToTicks(12, RATE),
  sourceOut: framesToTicks(36, RATE),
  mediaStart: 0n,
  frameRate: RATE,
  sequenceFrameRate: RATE,
  sequenceName: 'Sequence 01',
  disabled: false,
};

function ready(): PanelState {
  const region = newRegion('r1', 'jellyfish', 2, []);
  return {
    ...initialState(),
    clip: { clip, segment: { startFrame: 12, frameCount: 24 }, probe: null, problem: null, previews: {} },
    selectionMessage: null,
    prompt: ' a jellyfish in the ocean ',
    regions: [
      {
        ...region,
        source: {
          kind: 'boxes',
          keyframes: [
            { frame: 0, box: [10, 20, 110, 120] },
            { frame: 12, box: [60, 20, 160, 120] },
          ],
        },
      },
    ],
  };
}

test('the job carries the segment, the word token, the keyframes in clip pixels and the step override', () => {
  const state = { ...ready(), options: { ...ready().options, quality: 'draft' as const, steps: 3, seed: 7 } };
  const build = buildJob(state, '/data/previews');
  if (!build.ok) throw new Error(build.problem);
  expect(jobSpecSchema.safeParse(build.job).success).toBe(true);
  expect(build.job).toMatchObject({
    source: { path: '/media/shot.mov', startFrame: 12, frameCount: 24 },
    prompt: 'a jellyfish in the ocean',
    objects: [
      {
        word: 'jellyfish',
        tokenIndex: 2,
        region: {
          kind: 'boxes',
          keyframes: [
            { frame: 0, box: [10, 20, 110, 120] },
            { frame: 12, box: [60, 20, 160, 120] },
          ],
        },
      },
    ],
    mode: 'replace',
    quality: 'draft',
    settings: { guidanceScale: 12.5, seed: 7, steps: 3, inversionSteps: 3 },
    previewDir: '/data/previews',
  });
});

test('what is missing is said before anything is sent', () => {
  expect(buildJob({ ...ready(), clip: null, selectionMessage: 'Select a video clip in the timeline.' }, '/p')).toEqual({
    ok: false,
    problem: 'Select a video clip in the timeline.',
  });
  expect(buildJob({ ...ready(), prompt: '  ' }, '/p')).toMatchObject({ ok: false, problem: expect.stringMatching(/Edited prompt/) });
  expect(buildJob({ ...ready(), regions: [] }, '/p')).toMatchObject({ ok: false, problem: expect.stringMatching(/object word/) });
  const lost = ready().regions.map((r) => ({ ...r, tokenPosition: null }));
  expect(buildJob({ ...ready(), regions: lost }, '/p')).toMatchObject({ ok: false, problem: expect.stringMatching(/no longer in the edited prompt/) });
  const empty = ready().regions.map((r) => ({ ...r, source: { kind: 'boxes' as const, keyframes: [] } }));
  expect(buildJob({ ...ready(), regions: empty }, '/p')).toMatchObject({ ok: false, problem: expect.stringMatching(/Draw a box/) });
  expect(buildJob({ ...ready(), regions: [], options: { ...ready().options, mode: 'global' } }, '/p').ok).toBe(true);
});
