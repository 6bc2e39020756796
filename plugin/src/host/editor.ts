/**
 * The panel's host adapter, written once over a Premiere-shaped TimelineHost: which selections can be
 * edited, how a result goes back (A/B or replace, one undoable transaction), and the read-back that
 * checks the timeline instead of trusting the host's "true".
 */
import {
  HostError,
  type ClipSelection,
  type EditAction,
  type HostAdapter,
  type ImportedItem,
  type PlaceRequest,
  type PlacementReport,
  type ProjectItemInfo,
  type TimelineClip,
  type TimelineHost,
  type TrackItemInfo,
} from './adapter';
import { framesToTicks, rateToFps, ticksToSeconds, type FrameRate } from './ticks';

export const RESULT_BIN_NAME = 'ReAtCo';

export const UNDO_LABELS = {
  ab: 'ReAtCo: add edited clip above the original',
  replace: 'ReAtCo: replace clip with edited clip',
} as const;

/** Why a selected video item cannot be edited, or null when it can. */
export function refusalReason(item: TrackItemInfo): string | null {
  const media = item.projectItem;
  if (!media || media.isSequence) return 'This is a nested sequence or a synthetic clip. Select a clip of a video file.';
  if (!media.mediaPath) return 'This clip has no media file. Select a clip of a video file.';
  if (media.offline) return `The media of "${item.name}" is offline. Relink it first.`;
  if (!media.frameRate) return `"${item.name}" has no frame rate (a still image?). Select a video clip.`;
  if (item.reversed) return `"${item.name}" plays in reverse. Turn off Reverse Speed (Clip > Speed/Duration) and select it again.`;
  // Speed is reported in different units across versions; a retimed clip is one whose source span
  // differs from its timeline span, which is exact and unit-free.
  if (item.outPoint - item.inPoint !== item.end - item.start) {
    return `"${item.name}" is retimed (speed ${formatSpeed(item.speed)}). Set its speed to 100% or nest it, then select it again.`;
  }
  return null;
}

function formatSpeed(speed: number): string {
  const percent = Math.abs(speed) <= 10 ? speed * 100 : speed;
  return `${Math.round(percent * 10) / 10}%`;
}

export function clipKey(trackIndex: number, start: bigint): string {
  return `V${trackIndex + 1}@${start}`;
}

function toClip(item: TrackItemInfo, media: ProjectItemInfo, sequence: { name: string; frameRate: FrameRate }, rate: FrameRate): TimelineClip {
  return {
    key: clipKey(item.trackIndex, item.start),
    name: item.name,
    mediaPath: media.mediaPath,
    trackIndex: item.trackIndex,
    start: item.start,
    end: item.end,
    sourceIn: item.inPoint,
    sourceOut: item.outPoint,
    mediaStart: media.mediaStart,
    frameRate: rate,
    sequenceFrameRate: sequence.frameRate,
    sequenceName: sequence.name,
    disabled: item.disabled,
  };
}

/** Paths as hosts hand them back may differ in slash direction and (on Windows and macOS) case. */
export function samePath(a: string, b: string): boolean {
  const norm = (p: string) => p.replace(/\\/g, '/').toLowerCase();
  return norm(a) === norm(b);
}

function describeSpan(ticks: bigint, rate: FrameRate): string {
  const frames = ticksToSeconds(ticks) * rateToFps(rate);
  return `${ticksToSeconds(ticks).toFixed(3)} s (${Math.round(frames * 1000) / 1000} frames)`;
}

const overlaps = (item: TrackItemInfo, start: bigint, end: bigint) => item.start < end && item.end > start;

export function createHostAdapter(host: TimelineHost): HostAdapter {
  async function importAndFind(path: string): Promise<{ item: ProjectItemInfo; imported: ImportedItem }> {
    const bin = await host.ensureBin(RESULT_BIN_NAME);
    const existing = await host.findItemByMediaPath(bin, path);
    if (existing) return { item: existing, imported: { name: existing.name, mediaPath: existing.mediaPath, binName: RESULT_BIN_NAME } };
    if (!(await host.importFiles([path], bin))) throw new HostError('IMPORT_FAILED', `Premiere could not import "${path}".`);
    const item = await host.findItemByMediaPath(bin, path);
    if (!item) throw new HostError('ITEM_NOT_FOUND', `"${path}" was imported but is not in the ${RESULT_BIN_NAME} bin.`);
    return { item, imported: { name: item.name, mediaPath: item.mediaPath, binName: RESULT_BIN_NAME } };
  }

  /** The clip as it is on the timeline now; the panel's copy may be stale. */
  async function findOriginal(clip: TimelineClip): Promise<TrackItemInfo> {
    const items = await host.videoTrackItems(clip.trackIndex);
    const original = items.find(
      (item) => item.start === clip.start && item.end === clip.end && !!item.projectItem && samePath(item.projectItem.mediaPath, clip.mediaPath),
    );
    if (!original) {
      throw new HostError('STALE_CLIP', `"${clip.name}" is no longer at the same place on V${clip.trackIndex + 1}. Select it again.`);
    }
    return original;
  }

  /** The lowest track above the original with nothing in the clip's span; past the last track means a new one. */
  async function trackForB(clip: TimelineClip, trackCount: number): Promise<number> {
    for (let index = clip.trackIndex + 1; index < trackCount; index++) {
      const items = await host.videoTrackItems(index);
      if (!items.some((item) => overlaps(item, clip.start, clip.end))) return index;
    }
    return trackCount;
  }

  async function verify(
    request: PlaceRequest,
    targetTrack: number,
    original: TrackItemInfo,
  ): Promise<{ placed: PlacementReport['placed']; problems: string[] }> {
    const { clip, mode, resultPath } = request;
    const problems: string[] = [];
    const items = await host.videoTrackItems(targetTrack);
    const candidates = items.filter((item) => item.projectItem && samePath(item.projectItem.mediaPath, resultPath));
    const placedItem = candidates.find((item) => item.start === clip.start) ?? candidates[0];
    const rate = clip.sequenceFrameRate;
    if (!placedItem) {
      problems.push(`The edited clip is not on V${targetTrack + 1}.`);
    } else {
      if (placedItem.start !== clip.start) {
        problems.push(`The edited clip starts at ${describeSpan(placedItem.start, rate)} instead of ${describeSpan(clip.start, rate)}.`);
      }
      if (placedItem.end - placedItem.start !== clip.end - clip.start) {
        problems.push(
          `The edited clip lasts ${describeSpan(placedItem.end - placedItem.start, rate)} instead of ${describeSpan(clip.end - clip.start, rate)}.`,
        );
      }
      if (placedItem.disabled) problems.push('The edited clip is disabled.');
    }
    const originalTrack = targetTrack === clip.trackIndex ? items : await host.videoTrackItems(clip.trackIndex);
    const originalNow = originalTrack.find(
      (item) => item.start === original.start && item.projectItem && samePath(item.projectItem.mediaPath, clip.mediaPath),
    );
    if (mode === 'ab') {
      if (!originalNow) problems.push(`The original clip is missing from V${clip.trackIndex + 1}.`);
      else if (!originalNow.disabled) problems.push('The original clip is still enabled.');
    } else {
      const leftovers = originalTrack.filter((item) => item !== placedItem && overlaps(item, clip.start, clip.end));
      if (leftovers.length > 0) problems.push(`Something other than the edited clip is still on V${clip.trackIndex + 1} in the clip's span.`);
    }
    const placed = placedItem ? { trackIndex: placedItem.trackIndex, start: placedItem.start, end: placedItem.end } : null;
    return { placed, problems };
  }

  return {
    hostName: host.hostName,

    async readSelection(): Promise<ClipSelection> {
      const sequence = await host.activeSequence();
      if (!sequence) return { kind: 'none', reason: 'Open a sequence, then select a video clip in the timeline.' };
      const items = await host.selectedVideoItems();
      if (items.length === 0) return { kind: 'none', reason: 'Select a video clip in the timeline.' };
      if (items.length > 1) return { kind: 'none', reason: `Select one video clip (${items.length} are selected).` };
      const item = items[0]!;
      const reason = refusalReason(item);
      if (reason || !item.projectItem?.frameRate) return { kind: 'refused', reason: reason ?? 'This clip cannot be edited.', name: item.name };
      return { kind: 'clip', clip: toClip(item, item.projectItem, sequence, item.projectItem.frameRate) };
    },

    onSelectionChanged: (listener) => host.onSelectionChanged(listener),

    async importResult(path: string): Promise<ImportedItem> {
      return (await importAndFind(path)).imported;
    },

    async placeResult(request: PlaceRequest): Promise<PlacementReport> {
      const { clip, mode } = request;
      const sequence = await host.activeSequence();
      if (!sequence) throw new HostError('NO_SEQUENCE', 'Open the sequence the clip is in.');
      const { item, imported } = await importAndFind(request.resultPath);
      const original = await findOriginal(clip);
      // Frame 0 of the result is frame `segmentStartFrame` of the source: set the new item's in/out so
      // it covers exactly the original's span (overwrite otherwise places the whole file).
      const inPoint = clip.sourceIn - framesToTicks(request.segmentStartFrame, clip.frameRate);
      const setInOut: EditAction = { kind: 'setInOut', projectItem: item.ref, inPoint, outPoint: inPoint + (clip.end - clip.start) };
      let targetTrack = clip.trackIndex;
      let actions: EditAction[];
      if (mode === 'ab') {
        targetTrack = await trackForB(clip, sequence.videoTrackCount);
        const place: EditAction =
          targetTrack < sequence.videoTrackCount
            ? { kind: 'overwrite', projectItem: item.ref, time: clip.start, videoTrackIndex: targetTrack }
            : { kind: 'insertOnNewTrack', projectItem: item.ref, time: clip.start, videoTrackIndex: targetTrack };
        actions = [setInOut, place, { kind: 'setDisabled', trackItem: original.ref, disabled: true }];
      } else {
        actions = [
          setInOut,
          { kind: 'remove', trackItems: [original.ref], ripple: false },
          { kind: 'overwrite', projectItem: item.ref, time: clip.start, videoTrackIndex: clip.trackIndex },
        ];
      }
      const undoLabel = UNDO_LABELS[mode];
      if (!(await host.transaction(undoLabel, actions))) {
        throw new HostError('TRANSACTION_FAILED', 'Premiere refused the edit; the timeline was not changed.');
      }
      const { placed, problems } = await verify(request, targetTrack, original);
      return { ok: problems.length === 0, mode, imported, placed, problems, undoLabel };
    },
  };
}
