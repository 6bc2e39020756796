/**
 * The only file (with premiere-transaction.ts) that touches the `premierepro` module. It turns live
 * host objects into plain data (TimelineHost in adapter.ts) and described edits into real actions.
 * Live objects stay in registries keyed by opaque refs, refreshed on every read.
 */
import type {
  Action,
  FolderItem,
  premierepro,
  Project,
  ProjectItem,
  Sequence,
  TickTime,
  TrackItemSelection,
  VideoClipTrackItem,
} from '@adobe/premierepro';
import { HostError, type EditAction, type ProjectItemInfo, type SequenceInfo, type TimelineHost, type TrackItemInfo } from './adapter';
import { samePath } from './editor';
import { mediaStartFromColumns } from './media-start';
import { lockedTransaction } from './premiere-transaction';
import { rateFromFps, rateFromTicksPerFrame, type FrameRate } from './ticks';

/**
 * Audio track index for placing a video-only result. Whether Premiere takes a negative index as "no
 * audio" is not documented (UNVERIFIED on a real host); the helper's outputs carry no audio we need.
 */
const NO_AUDIO_TRACK = -1;

export function createPremiereHost(): TimelineHost {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ppro = require('premierepro') as premierepro;
  const trackItems = new Map<string, VideoClipTrackItem>();
  const projectItems = new Map<string, ProjectItem>();
  let nextRef = 1;

  const toTicks = (time: TickTime): bigint => BigInt(time.ticks);
  const fromTicks = (ticks: bigint): TickTime => ppro.TickTime.createWithTicks(ticks.toString());

  async function context(): Promise<{ project: Project; sequence: Sequence | null }> {
    const project = await ppro.Project.getActiveProject();
    if (!project) throw new HostError('NO_PROJECT', 'Open a Premiere project first.');
    return { project, sequence: (await project.getActiveSequence()) ?? null };
  }

  async function requireSequence(): Promise<{ project: Project; sequence: Sequence }> {
    const { project, sequence } = await context();
    if (!sequence) throw new HostError('NO_SEQUENCE', 'Open a sequence first.');
    return { project, sequence };
  }

  function footageRate(fps: number): FrameRate | null {
    return fps > 0 && Number.isFinite(fps) ? rateFromFps(fps) : null;
  }

  async function readProjectItem(item: ProjectItem): Promise<ProjectItemInfo> {
    const ref = `pi-${nextRef++}`;
    projectItems.set(ref, item);
    const clip = ppro.ClipProjectItem.cast(item);
    if (!clip) return { ref, name: item.name, mediaPath: '', mediaStart: 0n, frameRate: null, isSequence: true, offline: false };
    const isSequence = await clip.isSequence();
    const [mediaPath, offline, columns] = await Promise.all([
      isSequence ? Promise.resolve('') : clip.getMediaFilePath(),
      clip.isOffline(),
      ppro.Metadata.getProjectColumnsMetadata(item),
    ]);
    const frameRate = isSequence ? null : footageRate((await clip.getFootageInterpretation()).getFrameRate());
    return { ref, name: item.name, mediaPath, mediaStart: mediaStartFromColumns(columns), frameRate, isSequence, offline };
  }

  async function readTrackItem(item: VideoClipTrackItem): Promise<TrackItemInfo> {
    const [name, trackIndex, start, end, inPoint, outPoint, speed, reversed, disabled, projectItem] = await Promise.all([
      item.getName(),
      item.getTrackIndex(),
      item.getStartTime(),
      item.getEndTime(),
      item.getInPoint(),
      item.getOutPoint(),
      item.getSpeed(),
      item.isSpeedReversed(),
      item.isDisabled(),
      item.getProjectItem(),
    ]);
    const ref = `ti-${trackIndex}-${start.ticks}`;
    trackItems.set(ref, item);
    return {
      ref,
      name,
      trackIndex,
      start: toTicks(start),
      end: toTicks(end),
      inPoint: toTicks(inPoint),
      outPoint: toTicks(outPoint),
      speed,
      reversed: !!reversed,
      disabled,
      projectItem: projectItem ? await readProjectItem(projectItem) : null,
    };
  }

  function liveTrackItem(ref: string): VideoClipTrackItem {
    const item = trackItems.get(ref);
    if (!item) throw new HostError('STALE_CLIP', 'The clip changed since it was read. Select it again.');
    return item;
  }

  function liveProjectItem(ref: string): ProjectItem {
    const item = projectItems.get(ref);
    if (!item) throw new HostError('ITEM_NOT_FOUND', 'The imported clip is no longer in the project.');
    return item;
  }

  function selectionOf(items: readonly VideoClipTrackItem[]): TrackItemSelection {
    let created: TrackItemSelection | undefined;
    ppro.TrackItemSelection.createEmptySelection((selection) => {
      for (const item of items) selection.addItem(item, true);
      created = selection;
    });
    if (!created) throw new HostError('TRANSACTION_FAILED', 'Premiere could not build a selection to remove.');
    return created;
  }

  async function binFolder(ref: string): Promise<FolderItem> {
    const folder = ppro.FolderItem.cast(liveProjectItem(ref));
    if (!folder) throw new HostError('ITEM_NOT_FOUND', 'The ReAtCo bin is no longer in the project.');
    return folder;
  }

  async function findBin(root: FolderItem, name: string): Promise<ProjectItem | undefined> {
    const items = await root.getItems();
    return items.find((item) => item.type === ppro.ProjectItem.TYPE_BIN && item.name === name);
  }

  return {
    hostName: 'Premiere Pro',

    async activeSequence(): Promise<SequenceInfo | null> {
      const { sequence } = await context();
      if (!sequence) return null;
      const [timebase, videoTrackCount] = await Promise.all([sequence.getTimebase(), sequence.getVideoTrackCount()]);
      return { name: sequence.name, frameRate: rateFromTicksPerFrame(timebase), videoTrackCount };
    },

    async selectedVideoItems(): Promise<TrackItemInfo[]> {
      const { sequence } = await requireSequence();
      const selected = await (await sequence.getSelection()).getTrackItems();
      if (selected.length === 0 || (await sequence.getVideoTrackCount()) === 0) return [];
      // The selection includes linked audio; keep items whose media type is the video tracks' (UNVERIFIED).
      const videoType = (await (await sequence.getVideoTrack(0)).getMediaType()).toString();
      const types = await Promise.all(selected.map(async (item) => (await item.getMediaType()).toString()));
      const video = selected.filter((_, i) => types[i] === videoType) as VideoClipTrackItem[];
      return Promise.all(video.map(readTrackItem));
    },

    async videoTrackItems(trackIndex: number): Promise<TrackItemInfo[]> {
      const { sequence } = await requireSequence();
      if (trackIndex >= (await sequence.getVideoTrackCount())) return [];
      const track = await sequence.getVideoTrack(trackIndex);
      return Promise.all(track.getTrackItems(ppro.Constants.TrackItemType.CLIP, false).map(readTrackItem));
    },

    async ensureBin(name: string): Promise<string> {
      const { project } = await context();
      const root = await project.getRootItem();
      let bin = await findBin(root, name);
      if (!bin) {
        lockedTransaction(project, `Create bin "${name}"`, () => [root.createBinAction(name, false)]);
        bin = await findBin(root, name);
      }
      if (!bin) throw new HostError('IMPORT_FAILED', `Premiere could not create the "${name}" bin.`);
      const ref = `bin-${nextRef++}`;
      projectItems.set(ref, bin);
      return ref;
    },

    async importFiles(paths: readonly string[], binRef: string): Promise<boolean> {
      const { project } = await context();
      // Not undoable (importFiles is not an Action): the panel says so next to "Place" and "Import".
      return project.importFiles([...paths], true, liveProjectItem(binRef), false);
    },

    async findItemByMediaPath(binRef: string, mediaPath: string): Promise<ProjectItemInfo | null> {
      const items = await (await binFolder(binRef)).getItems();
      for (const item of items) {
        const clip = ppro.ClipProjectItem.cast(item);
        if (clip && samePath(await clip.getMediaFilePath(), mediaPath)) return readProjectItem(item);
      }
      return null;
    },

    async transaction(label: string, actions: readonly EditAction[]): Promise<boolean> {
      const { project, sequence } = await requireSequence();
      const editor = ppro.SequenceEditor.getEditor(sequence);
      // Resolve everything first: the lockedAccess callback must not await.
      const removals = new Map(
        actions.filter((a) => a.kind === 'remove').map((a) => [a, selectionOf(a.trackItems.map(liveTrackItem))] as const),
      );
      const create = (action: EditAction): Action => {
        switch (action.kind) {
          case 'setInOut':
            return ppro.ClipProjectItem.cast(liveProjectItem(action.projectItem)).createSetInOutPointsAction(
              fromTicks(action.inPoint),
              fromTicks(action.outPoint),
            );
          case 'overwrite':
            return editor.createOverwriteItemAction(liveProjectItem(action.projectItem), fromTicks(action.time), action.videoTrackIndex, NO_AUDIO_TRACK);
          case 'insertOnNewTrack':
            return editor.createInsertProjectItemAction(
              liveProjectItem(action.projectItem),
              fromTicks(action.time),
              action.videoTrackIndex,
              NO_AUDIO_TRACK,
              true,
            );
          case 'remove':
            return editor.createRemoveItemsAction(removals.get(action)!, action.ripple, ppro.Constants.MediaType.VIDEO);
          case 'setDisabled':
            return liveTrackItem(action.trackItem).createSetDisabledAction(action.disabled);
        }
      };
      return lockedTransaction(project, label, () => actions.map(create));
    },

    onSelectionChanged(listener: () => void): () => void {
      const handler = () => listener();
      ppro.EventManager.addGlobalEventListener(ppro.Constants.SequenceEvent.SELECTION_CHANGED, handler);
      return () => ppro.EventManager.removeGlobalEventListener(ppro.Constants.SequenceEvent.SELECTION_CHANGED, handler);
    },
  };
}
