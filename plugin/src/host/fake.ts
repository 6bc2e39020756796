/**
 * An in-memory Premiere for the unit tests and the browser development page. It follows the official
 * typings' semantics: ticks, 0-based video tracks, items with start/end (sequence time) and in/out
 * (media time), a bin tree, importFiles outside undo, transactions applied all-or-nothing as one undo
 * step, overwrite replacing whatever lies under it on that track, remove without ripple leaving a gap,
 * insert past the last track creating a track. Audio is not modelled.
 */
import type { EditAction, ProjectItemInfo, SequenceInfo, TimelineHost, TrackItemInfo } from './adapter';
import type { FrameRate } from './ticks';

export interface FakeMedia {
  readonly durationTicks: bigint;
  readonly frameRate: FrameRate;
  /** Timecode of the first frame (Column.Intrinsic.MediaStart). */
  readonly mediaStart?: bigint;
}

/** How the fake learns what an imported file is (tests: a table; the dev page: the helper's probe). */
export type MediaResolver = (path: string) => Promise<FakeMedia | null>;

export interface FakeTrackItem {
  readonly id: string;
  readonly projectItemId: string;
  readonly name: string;
  readonly start: bigint;
  readonly end: bigint;
  readonly inPoint: bigint;
  readonly outPoint: bigint;
  readonly disabled: boolean;
  readonly speed: number;
  readonly reversed: boolean;
}

interface FakeProjectItem {
  readonly id: string;
  readonly name: string;
  readonly path: string;
  readonly media: FakeMedia | null;
  readonly isSequence: boolean;
  readonly offline: boolean;
  binId: string;
}

export interface FakeBin {
  readonly id: string;
  readonly name: string;
  readonly parentId: string | null;
}

/** Everything a transaction can change; undo and redo swap whole snapshots. */
interface EditableState {
  readonly tracks: FakeTrackItem[][];
  readonly marks: Map<string, { inPoint: bigint; outPoint: bigint }>;
  readonly bins: FakeBin[];
}

interface UndoStep {
  readonly label: string;
  readonly before: EditableState;
  readonly after: EditableState;
}

export interface FakeOptions {
  readonly sequenceName?: string;
  readonly frameRate: FrameRate;
  readonly videoTrackCount?: number;
  readonly resolveMedia?: MediaResolver;
}

export interface AddClipOptions {
  readonly projectItemId: string;
  readonly trackIndex: number;
  readonly start: bigint;
  readonly inPoint: bigint;
  readonly duration: bigint;
  readonly speed?: number;
  readonly reversed?: boolean;
  readonly disabled?: boolean;
}

const ROOT_BIN = 'bin-root';

function cloneState(state: EditableState): EditableState {
  return {
    tracks: state.tracks.map((track) => track.map((item) => ({ ...item }))),
    marks: new Map([...state.marks].map(([id, mark]) => [id, { ...mark }])),
    bins: state.bins.map((bin) => ({ ...bin })),
  };
}

const baseName = (path: string) => path.split(/[\\/]/).pop() ?? path;

export class FakePremiere implements TimelineHost {
  readonly hostName = 'Fake Premiere';
  readonly sequenceName: string;
  readonly frameRate: FrameRate;
  private state: EditableState;
  private readonly projectItems = new Map<string, FakeProjectItem>();
  private readonly undoStack: UndoStep[] = [];
  private readonly redoStack: UndoStep[] = [];
  private selection: string[] = [];
  private nextId = 1;
  private readonly selectionListeners = new Set<() => void>();
  private readonly changeListeners = new Set<() => void>();
  private readonly resolveMedia: MediaResolver;

  constructor(options: FakeOptions) {
    this.sequenceName = options.sequenceName ?? 'Sequence 01';
    this.frameRate = options.frameRate;
    this.resolveMedia = options.resolveMedia ?? (async () => null);
    this.state = {
      tracks: Array.from({ length: options.videoTrackCount ?? 3 }, () => []),
      marks: new Map(),
      bins: [{ id: ROOT_BIN, name: 'Project', parentId: null }],
    };
  }

  // ---- Setting up a project (tests and the dev page; not undoable) ----

  addMedia(path: string, media: FakeMedia | null, options: { isSequence?: boolean; offline?: boolean; name?: string } = {}): string {
    const id = this.id('pi');
    this.projectItems.set(id, {
      id,
      name: options.name ?? baseName(path),
      path,
      media,
      isSequence: options.isSequence ?? false,
      offline: options.offline ?? false,
      binId: ROOT_BIN,
    });
    return id;
  }

  addClip(options: AddClipOptions): string {
    const project = this.projectItem(options.projectItemId);
    const track = this.state.tracks[options.trackIndex];
    if (!track) throw new RangeError(`V${options.trackIndex + 1} does not exist.`);
    const speed = options.speed ?? 1;
    const sourceSpan = BigInt(Math.round(Number(options.duration) * speed));
    const item: FakeTrackItem = {
      id: this.id('ti'),
      projectItemId: project.id,
      name: project.name,
      start: options.start,
      end: options.start + options.duration,
      inPoint: options.inPoint,
      outPoint: options.inPoint + sourceSpan,
      disabled: options.disabled ?? false,
      speed,
      reversed: options.reversed ?? false,
    };
    cutRange(track, item.start, item.end, () => this.id('ti'));
    track.push(item);
    sortTrack(track);
    this.changed();
    return item.id;
  }

  select(trackItemIds: readonly string[]): void {
    this.selection = [...trackItemIds];
    for (const listener of this.selectionListeners) listener();
    this.changed();
  }

  get selectedIds(): readonly string[] {
    return this.selection;
  }

  /** A plain copy of the video tracks, for comparing before and after. */
  timeline(): FakeTrackItem[][] {
    return this.state.tracks.map((track) => track.map((item) => ({ ...item })));
  }

  bins(): { bin: FakeBin; items: { id: string; name: string; path: string }[] }[] {
    return this.state.bins.map((bin) => ({
      bin,
      items: [...this.projectItems.values()].filter((item) => item.binId === bin.id).map(({ id, name, path }) => ({ id, name, path })),
    }));
  }

  projectItemName(id: string): string {
    return this.projectItem(id).name;
  }

  get undoLabels(): readonly string[] {
    return this.undoStack.map((step) => step.label);
  }

  undo(): boolean {
    const step = this.undoStack.pop();
    if (!step) return false;
    this.restore(step.before);
    this.redoStack.push(step);
    return true;
  }

  redo(): boolean {
    const step = this.redoStack.pop();
    if (!step) return false;
    this.restore(step.after);
    this.undoStack.push(step);
    return true;
  }

  /** Any change to the project (for the dev page's timeline view). */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  // ---- TimelineHost ----

  async activeSequence(): Promise<SequenceInfo> {
    return { name: this.sequenceName, frameRate: this.frameRate, videoTrackCount: this.state.tracks.length };
  }

  async selectedVideoItems(): Promise<TrackItemInfo[]> {
    return this.state.tracks.flatMap((track, index) =>
      track.filter((item) => this.selection.includes(item.id)).map((item) => this.trackItemInfo(item, index)),
    );
  }

  async videoTrackItems(trackIndex: number): Promise<TrackItemInfo[]> {
    return (this.state.tracks[trackIndex] ?? []).map((item) => this.trackItemInfo(item, trackIndex));
  }

  async ensureBin(name: string): Promise<string> {
    const existing = this.state.bins.find((bin) => bin.parentId === ROOT_BIN && bin.name === name);
    if (existing) return existing.id;
    // Premiere creates bins with createBinAction inside a transaction: an undo step of its own.
    const id = this.id('bin');
    this.commit(`Create bin "${name}"`, (draft) => draft.bins.push({ id, name, parentId: ROOT_BIN }));
    return id;
  }

  async importFiles(paths: readonly string[], binRef: string): Promise<boolean> {
    if (!this.state.bins.some((bin) => bin.id === binRef)) return false;
    const media = await Promise.all(paths.map((path) => this.resolveMedia(path)));
    if (media.some((m) => m === null)) return false;
    paths.forEach((path, i) => {
      const id = this.addMedia(path, media[i]!);
      this.projectItem(id).binId = binRef;
    });
    this.changed();
    return true;
  }

  async findItemByMediaPath(binRef: string, mediaPath: string): Promise<ProjectItemInfo | null> {
    const item = [...this.projectItems.values()].find((p) => p.binId === binRef && p.path === mediaPath);
    return item ? this.projectItemInfo(item) : null;
  }

  async transaction(label: string, actions: readonly EditAction[]): Promise<boolean> {
    try {
      this.commit(label, (draft) => actions.forEach((action) => this.apply(draft, action)));
      return true;
    } catch {
      return false;
    }
  }

  onSelectionChanged(listener: () => void): () => void {
    this.selectionListeners.add(listener);
    return () => this.selectionListeners.delete(listener);
  }

  // ---- Internals ----

  private id(prefix: string): string {
    return `${prefix}-${this.nextId++}`;
  }

  private projectItem(id: string): FakeProjectItem {
    const item = this.projectItems.get(id);
    if (!item) throw new RangeError(`No project item ${id}.`);
    return item;
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  /** Applies `edit` to a copy; the project changes only if every step succeeds. */
  private commit(label: string, edit: (draft: EditableState) => void): void {
    const before = cloneState(this.state);
    const draft = cloneState(this.state);
    edit(draft);
    this.state = draft;
    this.undoStack.push({ label, before, after: cloneState(draft) });
    this.redoStack.length = 0;
    this.dropStaleSelection();
    this.changed();
  }

  private restore(snapshot: EditableState): void {
    this.state = cloneState(snapshot);
    // Imports are not undone: items in a bin that the undo removed fall back to the root.
    for (const item of this.projectItems.values()) {
      if (!this.state.bins.some((bin) => bin.id === item.binId)) item.binId = ROOT_BIN;
    }
    this.dropStaleSelection();
    this.changed();
  }

  private dropStaleSelection(): void {
    const alive = new Set(this.state.tracks.flat().map((item) => item.id));
    this.selection = this.selection.filter((id) => alive.has(id));
  }

  private apply(draft: EditableState, action: EditAction): void {
    switch (action.kind) {
      case 'setInOut': {
        const media = this.projectItem(action.projectItem).media;
        if (!media) throw new Error('This project item has no media.');
        // Premiere keeps marks inside the media: a range past its end is cut short.
        const inPoint = action.inPoint < 0n ? 0n : action.inPoint;
        const outPoint = action.outPoint > media.durationTicks ? media.durationTicks : action.outPoint;
        if (outPoint <= inPoint) throw new RangeError('The in point must come before the out point.');
        draft.marks.set(action.projectItem, { inPoint, outPoint });
        return;
      }
      case 'overwrite': {
        const track = draft.tracks[action.videoTrackIndex];
        // Track creation is documented for insert only; overwrite onto a missing track is refused.
        if (!track) throw new RangeError(`V${action.videoTrackIndex + 1} does not exist.`);
        this.place(draft, track, action.projectItem, action.time);
        return;
      }
      case 'insertOnNewTrack': {
        if (action.videoTrackIndex < draft.tracks.length) throw new RangeError(`V${action.videoTrackIndex + 1} already exists.`);
        const track: FakeTrackItem[] = [];
        draft.tracks.push(track);
        this.place(draft, track, action.projectItem, action.time);
        return;
      }
      case 'remove': {
        for (const id of action.trackItems) {
          const track = draft.tracks.find((t) => t.some((item) => item.id === id));
          if (!track) throw new RangeError(`No track item ${id}.`);
          const index = track.findIndex((item) => item.id === id);
          const [removed] = track.splice(index, 1);
          if (action.ripple && removed) {
            const gap = removed.end - removed.start;
            track.forEach((item, i) => {
              if (item.start >= removed.end) track[i] = { ...item, start: item.start - gap, end: item.end - gap };
            });
          }
        }
        return;
      }
      case 'setDisabled': {
        const track = draft.tracks.find((t) => t.some((item) => item.id === action.trackItem));
        if (!track) throw new RangeError(`No track item ${action.trackItem}.`);
        const index = track.findIndex((item) => item.id === action.trackItem);
        track[index] = { ...track[index]!, disabled: action.disabled };
        return;
      }
    }
  }

  /** Overwrite: the item's marked range (or the whole media) replaces whatever lies under it. */
  private place(draft: EditableState, track: FakeTrackItem[], projectItemId: string, time: bigint): void {
    const project = this.projectItem(projectItemId);
    if (!project.media) throw new Error('This project item has no media.');
    const range = draft.marks.get(projectItemId) ?? { inPoint: 0n, outPoint: project.media.durationTicks };
    const end = time + (range.outPoint - range.inPoint);
    cutRange(track, time, end, () => this.id('ti'));
    track.push({
      id: this.id('ti'),
      projectItemId,
      name: project.name,
      start: time,
      end,
      inPoint: range.inPoint,
      outPoint: range.outPoint,
      disabled: false,
      speed: 1,
      reversed: false,
    });
    sortTrack(track);
  }

  private projectItemInfo(item: FakeProjectItem): ProjectItemInfo {
    return {
      ref: item.id,
      name: item.name,
      mediaPath: item.isSequence ? '' : item.path,
      mediaStart: item.media?.mediaStart ?? 0n,
      frameRate: item.media && !item.isSequence ? item.media.frameRate : null,
      isSequence: item.isSequence,
      offline: item.offline,
    };
  }

  private trackItemInfo(item: FakeTrackItem, trackIndex: number): TrackItemInfo {
    return {
      ref: item.id,
      name: item.name,
      trackIndex,
      start: item.start,
      end: item.end,
      inPoint: item.inPoint,
      outPoint: item.outPoint,
      speed: item.speed,
      reversed: item.reversed,
      disabled: item.disabled,
      projectItem: this.projectItemInfo(this.projectItem(item.projectItemId)),
    };
  }
}

function sortTrack(track: FakeTrackItem[]): void {
  track.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

/** Clears [start, end) on a track: items inside go, items across an edge are trimmed, one across both is split. */
function cutRange(track: FakeTrackItem[], start: bigint, end: bigint, newId: () => string): void {
  const source = (item: FakeTrackItem, ticks: bigint) => BigInt(Math.round(Number(ticks) * item.speed));
  const kept: FakeTrackItem[] = [];
  for (const item of track) {
    if (item.end <= start || item.start >= end) {
      kept.push(item);
      continue;
    }
    if (item.start < start) kept.push({ ...item, end: start, outPoint: item.inPoint + source(item, start - item.start) });
    if (item.end > end) {
      const id = item.start < start ? newId() : item.id;
      kept.push({ ...item, id, start: end, inPoint: item.inPoint + source(item, end - item.start) });
    }
  }
  track.splice(0, track.length, ...kept);
}
