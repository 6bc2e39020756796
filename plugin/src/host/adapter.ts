/**
 * What the panel asks of the editing host, as plain data in and out (never live host objects).
 *
 * Two layers: `HostAdapter` is what the UI uses; `TimelineHost` is the small Premiere-shaped seam
 * underneath (tracks, items, project bins, transactions of described actions). `premiere.ts`
 * implements TimelineHost on the real API and `fake.ts` on an in-memory model with Premiere's
 * semantics, so the editing logic in `editor.ts` (refusals, A/B and replace plans, read-back
 * verification) is one piece of code, tested against the fake.
 */
import type { FrameRate } from './ticks';

/** A video clip on the timeline, read from the host. Times are ticks (see ticks.ts). */
export interface TimelineClip {
  /** Stable while the timeline is unchanged: track and start identify a video item. */
  readonly key: string;
  readonly name: string;
  readonly mediaPath: string;
  /** 0-based video track index (V1 = 0). */
  readonly trackIndex: number;
  /** Sequence time the item occupies, [start, end). */
  readonly start: bigint;
  readonly end: bigint;
  /** Source in/out relative to the media's first frame (media start already taken off). */
  readonly sourceIn: bigint;
  readonly sourceOut: bigint;
  /** Timecode of the media's first frame, for display (Column.Intrinsic.MediaStart). */
  readonly mediaStart: bigint;
  /** Rate the host plays the media at (its footage interpretation). */
  readonly frameRate: FrameRate;
  readonly sequenceFrameRate: FrameRate;
  readonly sequenceName: string;
  readonly disabled: boolean;
}

/** What the panel can do with the current timeline selection. */
export type ClipSelection =
  | { readonly kind: 'none'; readonly reason: string }
  | { readonly kind: 'refused'; readonly reason: string; readonly name: string }
  | { readonly kind: 'clip'; readonly clip: TimelineClip };

export type PlacementMode = 'ab' | 'replace';

export interface PlaceRequest {
  readonly clip: TimelineClip;
  /** The rendered file; frame 0 of it is frame `segmentStartFrame` of the clip's media. */
  readonly resultPath: string;
  readonly segmentStartFrame: number;
  readonly mode: PlacementMode;
}

export interface ImportedItem {
  readonly name: string;
  readonly mediaPath: string;
  readonly binName: string;
}

export interface PlacementReport {
  /** True only when the timeline read back matches the plan. */
  readonly ok: boolean;
  readonly mode: PlacementMode;
  readonly imported: ImportedItem;
  /** Where the new clip is, as read back from the timeline. */
  readonly placed: { readonly trackIndex: number; readonly start: bigint; readonly end: bigint } | null;
  /** Human-readable differences between the plan and the timeline (empty when ok). */
  readonly problems: readonly string[];
  readonly undoLabel: string;
}

export interface HostAdapter {
  readonly hostName: string;
  readSelection(): Promise<ClipSelection>;
  /** Calls `listener` when the timeline selection changes; returns the unsubscribe function. */
  onSelectionChanged(listener: () => void): () => void;
  /** Imports into the ReAtCo bin (not undoable in Premiere) and finds the new item by path. */
  importResult(path: string): Promise<ImportedItem>;
  /** Import, then ONE undoable transaction, then read the timeline back. */
  placeResult(request: PlaceRequest): Promise<PlacementReport>;
}

/** Failures the host reports with a code, so the panel can word them. */
export class HostError extends Error {
  constructor(
    readonly code: 'NO_PROJECT' | 'NO_SEQUENCE' | 'IMPORT_FAILED' | 'ITEM_NOT_FOUND' | 'TRANSACTION_FAILED' | 'STALE_CLIP',
    message: string,
  ) {
    super(message);
    this.name = 'HostError';
  }
}

// ---- The Premiere-shaped seam ----

export interface SequenceInfo {
  readonly name: string;
  readonly frameRate: FrameRate;
  readonly videoTrackCount: number;
}

export interface ProjectItemInfo {
  /** Opaque handle, valid until the next read. */
  readonly ref: string;
  readonly name: string;
  /** Empty for nested sequences and other items without a media file. */
  readonly mediaPath: string;
  readonly mediaStart: bigint;
  /** The footage interpretation's rate; null when the item has none (a sequence, a still). */
  readonly frameRate: FrameRate | null;
  readonly isSequence: boolean;
  readonly offline: boolean;
}

export interface TrackItemInfo {
  /** Opaque handle, valid until the next read. */
  readonly ref: string;
  readonly name: string;
  readonly trackIndex: number;
  readonly start: bigint;
  readonly end: bigint;
  readonly inPoint: bigint;
  readonly outPoint: bigint;
  /** As the host reports it (1 or 100 for normal speed depending on the API; compare durations instead). */
  readonly speed: number;
  readonly reversed: boolean;
  readonly disabled: boolean;
  readonly projectItem: ProjectItemInfo | null;
}

/** Timeline edits, described as data; a host turns them into its own actions inside one transaction. */
export type EditAction =
  | { readonly kind: 'setInOut'; readonly projectItem: string; readonly inPoint: bigint; readonly outPoint: bigint }
  | {
      readonly kind: 'overwrite';
      readonly projectItem: string;
      readonly time: bigint;
      readonly videoTrackIndex: number;
    }
  /** Insert onto a track index past the last one: the host creates that track (Premiere's documented behaviour). */
  | { readonly kind: 'insertOnNewTrack'; readonly projectItem: string; readonly time: bigint; readonly videoTrackIndex: number }
  | { readonly kind: 'remove'; readonly trackItems: readonly string[]; readonly ripple: boolean }
  | { readonly kind: 'setDisabled'; readonly trackItem: string; readonly disabled: boolean };

export interface TimelineHost {
  readonly hostName: string;
  activeSequence(): Promise<SequenceInfo | null>;
  /** Video track items in the active sequence's selection (linked audio left out). */
  selectedVideoItems(): Promise<TrackItemInfo[]>;
  videoTrackItems(trackIndex: number): Promise<TrackItemInfo[]>;
  /** A bin directly under the project root, created (undoably) when missing. */
  ensureBin(name: string): Promise<string>;
  /** Not undoable in Premiere. */
  importFiles(paths: readonly string[], binRef: string): Promise<boolean>;
  findItemByMediaPath(binRef: string, mediaPath: string): Promise<ProjectItemInfo | null>;
  /** Applies every action or none, as one undo step labelled `label`; false when the host refused. */
  transaction(label: string, actions: readonly EditAction[]): Promise<boolean>;
  onSelectionChanged(listener: () => void): () => void;
}
