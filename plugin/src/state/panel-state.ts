/** Everything the panel shows, as plain data. The UI renders it; only the controller changes it. */
import type { ClipInfo, ErrorCode, JobOutput, JobStage, Quality, ResultOf } from '@reatco/helper-service/protocol';
import type { ClientErrorCode, ConnectionState } from '../client/helper-client';
import type { PlacementMode, PlacementReport, TimelineClip, ImportedItem } from '../host/adapter';
import type { Segment } from '../host/segment';
import type { Region } from '../regions/region';
import type { PromptToken } from '../regions/words';

export type Capabilities = ResultOf<'capabilities'>;

export interface PreviewImage {
  readonly url: string;
  readonly width: number;
  readonly height: number;
}

export interface ClipState {
  readonly clip: TimelineClip;
  readonly segment: Segment;
  /** The helper's probe of the media file (clip pixels); null until it answers. */
  readonly probe: ClipInfo | null;
  /** Why the clip cannot be edited although the host allowed it (frame rate mismatch, too long...). */
  readonly problem: string | null;
  /** Preview frames by segment frame. */
  readonly previews: Readonly<Record<number, PreviewImage>>;
}

export interface PanelError {
  readonly code: ErrorCode | ClientErrorCode | 'HOST';
  readonly title: string;
  readonly detail: string;
}

export type JobStatus = 'submitting' | 'queued' | 'running' | 'done' | 'failed' | 'cancelling' | 'cancelled';

export interface JobState {
  readonly id: string | null;
  readonly status: JobStatus;
  /** The clip and segment the job edits (the selection may move on while it runs). */
  readonly clip: TimelineClip;
  readonly segment: Segment;
  readonly stage: JobStage | null;
  readonly fraction: number;
  readonly etaMs: number | null;
  readonly elapsedMs: number;
  readonly queuePosition: number | null;
  readonly output: JobOutput | null;
  readonly before: readonly string[];
  readonly after: readonly string[];
  readonly error: PanelError | null;
}

export interface EditOptions {
  readonly mode: 'replace' | 'global';
  readonly quality: Quality;
  readonly guidanceScale: number;
  /** Denoising and inversion steps; null = the quality's default. */
  readonly steps: number | null;
  readonly seed: number;
}

export type PlacementState =
  | { readonly status: 'idle' }
  | { readonly status: 'working'; readonly what: 'place' | 'import' }
  | { readonly status: 'placed'; readonly report: PlacementReport }
  | { readonly status: 'imported'; readonly item: ImportedItem }
  | { readonly status: 'failed'; readonly error: PanelError };

export interface PanelState {
  readonly connection: ConnectionState;
  readonly capabilities: Capabilities | null;
  readonly followSelection: boolean;
  /** Why there is no clip to edit (nothing selected, a refused clip), or null. */
  readonly selectionMessage: string | null;
  readonly clip: ClipState | null;
  /** Segment frame the region editor shows. */
  readonly currentFrame: number;
  readonly sourcePrompt: string;
  readonly prompt: string;
  readonly tokens: readonly PromptToken[];
  readonly tokensTruncated: boolean;
  readonly regions: readonly Region[];
  readonly activeRegionId: string | null;
  readonly options: EditOptions;
  readonly job: JobState | null;
  readonly placeMode: PlacementMode;
  readonly placement: PlacementState;
  /** The latest message for the editor that belongs to no section (a failed request...). */
  readonly notice: PanelError | null;
}

export const DEFAULT_OPTIONS: EditOptions = { mode: 'replace', quality: 'standard', guidanceScale: 12.5, steps: null, seed: 0 };

export function initialState(): PanelState {
  return {
    connection: { status: 'stopped' },
    capabilities: null,
    followSelection: true,
    selectionMessage: 'Select a video clip in the timeline.',
    clip: null,
    currentFrame: 0,
    sourcePrompt: '',
    prompt: '',
    tokens: [],
    tokensTruncated: false,
    regions: [],
    activeRegionId: null,
    options: DEFAULT_OPTIONS,
    job: null,
    placeMode: 'ab',
    placement: { status: 'idle' },
    notice: null,
  };
}

export const isJobActive = (job: JobState | null) =>
  !!job && (job.status === 'submitting' || job.status === 'queued' || job.status === 'running' || job.status === 'cancelling');
