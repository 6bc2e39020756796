/**
 * The panel's host adapter (editor.ts) on the fake Premiere: what can be edited, A/B and replace as
 * one undo step each, undo restoring the timeline exactly, and the read-back catching a mismatch.
 */
import type { HostAdapter, TimelineClip } from '../src/host/adapter';
import { createHostAdapter, RESULT_BIN_NAME, UNDO_LABELS } from '../src/host/editor';
import { FakePremiere, type FakeMedia } from '../src/host/fake';
import { framesToTicks, type FrameRate } from '../src/host/ticks';

const RATE: FrameRate = { num: 24000, den: 1001 };
const f = (frames: number) => framesToTicks(frames, RATE);
const SOURCE = '/media/ocean_shot.mov';
const RESULT = '/out/ocean_shot-reatco-1.mov';
/** Segment frames 12..35 of the source, rendered as a 24-frame file. */
const RESULT_MEDIA: FakeMedia = { durationTicks: f(24), frameRate: RATE };

interface Setup {
  fake: FakePremiere;
  host: HostAdapter;
  clipId: string;
}

/** V1: [b-roll 0-48][shot 48-72, source frames 12-36][b-roll 72-108]; V2: a title over 0-30. */
function setup(resultMedia: FakeMedia = RESULT_MEDIA, trackCount = 3): Setup {
  const media = new Map<string, FakeMedia>([[RESULT, resultMedia]]);
  const fake = new FakePremiere({ frameRate: RATE, videoTrackCount: trackCount, resolveMedia: async (path) => media.get(path) ?? null });
  const shot = fake.addMedia(SOURCE, { durationTicks: f(240), frameRate: RATE, mediaStart: f(86400) });
  const broll = fake.addMedia('/media/broll.mov', { durationTicks: f(480), frameRate: RATE });
  fake.addClip({ projectItemId: broll, trackIndex: 0, start: 0n, inPoint: 0n, duration: f(48) });
  const clipId = fake.addClip({ projectItemId: shot, trackIndex: 0, start: f(48), inPoint: f(12), duration: f(24) });
  fake.addClip({ projectItemId: broll, trackIndex: 0, start: f(72), inPoint: f(100), duration: f(36) });
  fake.addClip({ projectItemId: broll, trackIndex: 1, start: 0n, inPoint: f(300), duration: f(30) });
  return { fake, host: createHostAdapter(fake), clipId };
}

async function selectedClip({ fake, host, clipId }: Setup): Promise<TimelineClip> {
  fake.select([clipId]);
  const selection = await host.readSelection();
  if (selection.kind !== 'clip') throw new Error(`expected a clip, got ${JSON.stringify(selection)}`);
  return selection.clip;
}

describe('reading the selection', () => {
  test('a plain clip comes back as plain data, with the media start kept apart from the in point', async () => {
    const s = setup();
    const clip = await selectedClip(s);
    expect(clip).toMatchObject({
      name: 'ocean_shot.mov',
      mediaPath: SOURCE,
      trackIndex: 0,
      start: f(48),
      end: f(72),
      sourceIn: f(12),
      sourceOut: f(36),
      mediaStart: f(86400),
      frameRate: RATE,
      sequenceFrameRate: RATE,
      disabled: false,
    });
  });

  test('nothing, several, retimed, reversed, nested and offline selections are refused with a reason', async () => {
    const { fake, host, clipId } = setup();
    expect(await host.readSelection()).toEqual({ kind: 'none', reason: 'Select a video clip in the timeline.' });
    fake.select([clipId, fake.timeline()[0]![0]!.id]);
    expect(await host.readSelection()).toMatchObject({ kind: 'none', reason: expect.stringMatching(/one video clip \(2 are selected\)/) });

    const media = { durationTicks: f(480), frameRate: RATE };
    const cases: [string, string, RegExp][] = [
      ['fast', fake.addMedia('/media/fast.mov', media), /retimed \(speed 200%\)/],
      ['reversed', fake.addMedia('/media/rev.mov', media), /plays in reverse/],
      ['nest', fake.addMedia('', media, { isSequence: true, name: 'Nest' }), /nested sequence/],
      ['offline', fake.addMedia('/media/gone.mov', media, { offline: true }), /offline/],
    ];
    for (const [kind, projectItemId, reason] of cases) {
      const id = fake.addClip({
        projectItemId,
        trackIndex: 2,
        start: f(200),
        inPoint: 0n,
        duration: f(24),
        speed: kind === 'fast' ? 2 : 1,
        reversed: kind === 'reversed',
      });
      fake.select([id]);
      expect(await host.readSelection()).toMatchObject({ kind: 'refused', reason: expect.stringMatching(reason) });
    }
  });

  test('selection changes reach the panel', async () => {
    const { fake, host, clipId } = setup();
    const calls: number[] = [];
    const off = host.onSelectionChanged(() => calls.push(1));
    fake.select([clipId]);
    off();
    fake.select([]);
    expect(calls).toHaveLength(1);
  });
});

describe('placing the result', () => {
  test('A/B: one undo step puts the new clip over the same span on V2 and disables the original', async () => {
    const s = setup();
    const clip = await selectedClip(s);
    const before = s.fake.timeline();
    const report = await s.host.placeResult({ clip, resultPath: RESULT, segmentStartFrame: 12, mode: 'ab' });

    expect(report).toMatchObject({ ok: true, mode: 'ab', problems: [], placed: { trackIndex: 1, start: f(48), end: f(72) }, undoLabel: UNDO_LABELS.ab });
    expect(report.imported).toEqual({ name: 'ocean_shot-reatco-1.mov', mediaPath: RESULT, binName: RESULT_BIN_NAME });
    const after = s.fake.timeline();
    const placed = after[1]!.find((item) => item.start === f(48))!;
    expect(placed).toMatchObject({ end: f(72), inPoint: 0n, outPoint: f(24), disabled: false });
    expect(after[1]![0]).toEqual(before[1]![0]); // the title on V2 is untouched
    expect(after[0]).toEqual(before[0]!.map((item) => (item.id === s.clipId ? { ...item, disabled: true } : item)));
    expect(s.fake.undoLabels).toEqual([`Create bin "${RESULT_BIN_NAME}"`, UNDO_LABELS.ab]);

    expect(s.fake.undo()).toBe(true);
    expect(s.fake.timeline()).toEqual(before);
    expect(s.fake.redo()).toBe(true);
    expect(s.fake.timeline()).toEqual(after);
  });

  test('A/B goes to the lowest free track above, and creates one when every track is busy', async () => {
    const s = setup(RESULT_MEDIA, 2);
    const clip = await selectedClip(s);
    const broll = s.fake.timeline()[0]![0]!.projectItemId;
    s.fake.addClip({ projectItemId: broll, trackIndex: 1, start: f(60), inPoint: 0n, duration: f(4) });
    const before = s.fake.timeline();
    const report = await s.host.placeResult({ clip, resultPath: RESULT, segmentStartFrame: 12, mode: 'ab' });
    expect(report).toMatchObject({ ok: true, placed: { trackIndex: 2, start: f(48), end: f(72) } });
    expect(s.fake.timeline()).toHaveLength(3);
    expect(s.fake.timeline()[1]).toEqual(before[1]);

    s.fake.undo();
    expect(s.fake.timeline()).toEqual(before);
  });

  test('replace: the original goes without ripple, the new clip fills exactly its span, neighbours stay', async () => {
    const s = setup();
    const clip = await selectedClip(s);
    const before = s.fake.timeline();
    const report = await s.host.placeResult({ clip, resultPath: RESULT, segmentStartFrame: 12, mode: 'replace' });

    expect(report).toMatchObject({ ok: true, mode: 'replace', placed: { trackIndex: 0, start: f(48), end: f(72) }, undoLabel: UNDO_LABELS.replace });
    const v1 = s.fake.timeline()[0]!;
    expect(v1.map((item) => [item.name, item.start, item.end])).toEqual([
      ['broll.mov', 0n, f(48)],
      ['ocean_shot-reatco-1.mov', f(48), f(72)],
      ['broll.mov', f(72), f(108)],
    ]);
    expect(v1.some((item) => item.id === s.clipId)).toBe(false);
    expect(s.fake.timeline()[1]).toEqual(before[1]);

    s.fake.undo();
    expect(s.fake.timeline()).toEqual(before);
  });

  test('a result with handles is trimmed by its in/out points to the original span', async () => {
    // The helper rendered from source frame 10: the clip starts 2 frames into the file.
    const s = setup({ durationTicks: f(30), frameRate: RATE });
    const clip = await selectedClip(s);
    const report = await s.host.placeResult({ clip, resultPath: RESULT, segmentStartFrame: 10, mode: 'replace' });
    expect(report.ok).toBe(true);
    expect(s.fake.timeline()[0]![1]).toMatchObject({ start: f(48), end: f(72), inPoint: f(2), outPoint: f(26) });
  });

  test('the read-back reports a mismatch instead of claiming success', async () => {
    // The file is a frame short: Premiere keeps the out point inside the media, so the clip ends early.
    const s = setup({ durationTicks: f(23), frameRate: RATE });
    const clip = await selectedClip(s);
    const report = await s.host.placeResult({ clip, resultPath: RESULT, segmentStartFrame: 12, mode: 'ab' });
    expect(report.ok).toBe(false);
    expect(report.placed).toEqual({ trackIndex: 1, start: f(48), end: f(71) });
    expect(report.problems).toEqual([expect.stringMatching(/lasts 0\.959 s \(23 frames\) instead of 1\.001 s \(24 frames\)/)]);
  });

  test('a clip that moved since it was read is refused, and nothing changes', async () => {
    const s = setup();
    const clip = await selectedClip(s);
    const before = s.fake.timeline();
    await expect(s.host.placeResult({ clip: { ...clip, start: f(47) }, resultPath: RESULT, segmentStartFrame: 12, mode: 'ab' })).rejects.toMatchObject({
      code: 'STALE_CLIP',
    });
    expect(s.fake.timeline()).toEqual(before);
  });

  test('import only: into the ReAtCo bin, once', async () => {
    const s = setup();
    await s.host.importResult(RESULT);
    await s.host.importResult(RESULT);
    const bin = s.fake.bins().find((b) => b.bin.name === RESULT_BIN_NAME)!;
    expect(bin.items.map((item) => item.path)).toEqual([RESULT]);
    await expect(s.host.importResult('/out/missing.mov')).rejects.toMatchObject({ code: 'IMPORT_FAILED' });
  });
});

describe('the fake keeps Premiere semantics', () => {
  test('overwrite splits what lies under it; a failed transaction changes nothing', async () => {
    const s = setup();
    const broll = s.fake.timeline()[0]![0]!.projectItemId;
    const before = s.fake.timeline();
    expect(await s.fake.transaction('split', [{ kind: 'overwrite', projectItem: broll, time: f(10), videoTrackIndex: 0 }])).toBe(true);
    // broll is 480 frames: it covers 10..490, trimming the first clip and replacing everything after.
    expect(s.fake.timeline()[0]!.map((item) => [item.start, item.end, item.inPoint])).toEqual([
      [0n, f(10), 0n],
      [f(10), f(490), 0n],
    ]);
    s.fake.undo();
    expect(s.fake.timeline()).toEqual(before);
    expect(
      await s.fake.transaction('bad', [
        { kind: 'setDisabled', trackItem: s.clipId, disabled: true },
        { kind: 'overwrite', projectItem: broll, time: 0n, videoTrackIndex: 7 },
      ]),
    ).toBe(false);
    expect(s.fake.timeline()).toEqual(before);
  });

  test('remove without ripple leaves a gap; with ripple closes it', async () => {
    const s = setup();
    await s.fake.transaction('lift', [{ kind: 'remove', trackItems: [s.clipId], ripple: false }]);
    expect(s.fake.timeline()[0]!.map((item) => item.start)).toEqual([0n, f(72)]);
    s.fake.undo();
    await s.fake.transaction('extract', [{ kind: 'remove', trackItems: [s.clipId], ripple: true }]);
    expect(s.fake.timeline()[0]!.map((item) => item.start)).toEqual([0n, f(48)]);
  });
});
