/**
 * The panel's actions. The only code that talks to the host adapter and the helper client; it turns
 * their answers and events into state, which the UI renders.
 */
import type { JobEvent } from '@reatco/helper-service/protocol';
import type { BoxPx } from '@reatco/helper-service/regions';
import type { ConnectionState, HelperClient } from '../client/helper-client';
import type { HostAdapter, PlacementMode, TimelineClip } from '../host/adapter';
import { segmentOf } from '../host/segment';
import { rateToFps, sameRate } from '../host/ticks';
import { deleteKeyframe, setKeyframe } from '../regions/keyframes';
import { MAX_REGIONS, newRegion, type Region } from '../regions/region';
import { relocateWord, wordAtToken } from '../regions/words';
import { describeError, toPanelError } from './error-text';
import { buildJob } from './job-spec';
import { isJobActive, type ClipState, type EditOptions, type JobState, type PanelState, type PreviewImage } from './panel-state';
import type { Store } from './store';

/** Where the helper writes preview JPEGs, and how the panel shows one (plugin-data:/ in UXP, http on the dev page). */
export interface PreviewFolder {
  readonly dir: string;
  urlFor(path: string): string;
}

export interface PanelEnvironment {
  readonly host: HostAdapter;
  readonly client: HelperClient;
  readonly previews: PreviewFolder;
  /** A folder the editor picks (mask sequences); null when cancelled. */
  pickFolder(): Promise<string | null>;
}

const TOKENIZE_DELAY_MS = 250;
/** Frames fetched when a clip loads, spread over the segment, so scrubbing has something at once. */
const INITIAL_PREVIEWS = 5;
const PREVIEW_MAX_WIDTH = 640;

function spreadFrames(count: number, n: number): number[] {
  if (count <= 0) return [];
  const frames = Array.from({ length: Math.min(n, count) }, (_, i) => Math.round((i * (count - 1)) / Math.max(1, Math.min(n, count) - 1)));
  return [...new Set(frames)];
}

export class PanelController {
  private selectionRequest = 0;
  private tokenizeTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly previewsInFlight = new Set<number>();
  private readonly earlyEvents: JobEvent[] = [];
  private nextRegionId = 1;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly store: Store<PanelState>,
    private readonly env: PanelEnvironment,
  ) {}

  private get state(): PanelState {
    return this.store.state;
  }

  async start(): Promise<void> {
    const { client, host } = this.env;
    this.unsubscribe.push(
      client.onState((connection) => this.connectionChanged(connection)),
      client.onJobEvent((event) => this.jobEvent(event)),
      host.onSelectionChanged(() => {
        if (this.state.followSelection) void this.loadSelection();
      }),
    );
    await client.start();
    await this.loadSelection();
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    this.env.client.stop();
  }

  // ---- helper connection ----

  pair(token: string): Promise<void> {
    return this.env.client.pair(token);
  }

  forgetToken(): Promise<void> {
    return this.env.client.forgetToken();
  }

  reconnect(): void {
    this.env.client.reconnectNow();
  }

  private connectionChanged(connection: ConnectionState): void {
    this.store.update({ connection });
    if (connection.status !== 'connected') return;
    void this.loadCapabilities();
    if (this.state.clip && !this.state.clip.probe) void this.probeClip(this.state.clip.clip);
    if (this.state.prompt.trim()) this.scheduleTokenize(0);
  }

  private async loadCapabilities(): Promise<void> {
    try {
      const capabilities = await this.env.client.request('capabilities', {});
      this.store.update({ capabilities });
      if (this.state.clip) this.updateClip((c) => ({ problem: this.clipProblem(c) }));
    } catch (error) {
      this.store.update({ notice: toPanelError(error) });
    }
  }

  // ---- the clip ----

  setFollowSelection(follow: boolean): void {
    this.store.update({ followSelection: follow });
    if (follow) void this.loadSelection();
  }

  /** Reads the timeline selection (a running edit keeps its clip: the selection is read again afterwards). */
  async loadSelection(): Promise<void> {
    if (isJobActive(this.state.job)) return;
    const request = ++this.selectionRequest;
    let selection;
    try {
      selection = await this.env.host.readSelection();
    } catch (error) {
      if (request === this.selectionRequest) this.store.update({ clip: null, selectionMessage: toPanelError(error).detail });
      return;
    }
    if (request !== this.selectionRequest) return;
    if (selection.kind !== 'clip') {
      this.store.update({ clip: null, selectionMessage: selection.reason });
      return;
    }
    const same = this.state.clip?.clip.key === selection.clip.key && this.state.clip.clip.mediaPath === selection.clip.mediaPath;
    if (same) return;
    const clip: ClipState = { clip: selection.clip, segment: segmentOf(selection.clip), probe: null, problem: null, previews: {} };
    this.previewsInFlight.clear();
    this.store.update({ clip, selectionMessage: null, currentFrame: 0, regions: [], activeRegionId: null, placement: { status: 'idle' } });
    if (this.state.connection.status === 'connected') await this.probeClip(selection.clip);
  }

  private updateClip(change: (clip: ClipState) => Partial<ClipState>): void {
    this.store.update((s) => (s.clip ? { clip: { ...s.clip, ...change(s.clip) } } : {}));
  }

  private clipProblem(c: ClipState): string | null {
    const { clip, segment, probe } = c;
    if (segment.frameCount === 0) return 'The clip is shorter than one frame.';
    if (!probe) return null;
    if (!sameRate(probe.frameRate, clip.frameRate)) {
      return `Premiere plays this file at ${rateToFps(clip.frameRate).toFixed(3)} fps but it is ${probe.fps.toFixed(3)} fps (Interpret Footage). Reset the interpretation to edit it.`;
    }
    if (segment.startFrame + segment.frameCount > probe.frameCount) return 'The clip’s out point lies past the end of its file. Trim the clip and select it again.';
    const maxFrames = this.state.capabilities?.limits.maxFrames;
    if (maxFrames !== undefined && segment.frameCount > maxFrames) {
      return `The clip is ${segment.frameCount} frames long; the helper edits at most ${maxFrames} at a time. Trim or cut the clip.`;
    }
    return null;
  }

  private async probeClip(clip: TimelineClip): Promise<void> {
    try {
      const probe = await this.env.client.request('probe', { path: clip.mediaPath });
      if (this.state.clip?.clip !== clip) return;
      this.updateClip((c) => ({ probe, problem: this.clipProblem({ ...c, probe }) }));
      const { frameCount } = this.state.clip.segment;
      await this.ensurePreviews(spreadFrames(frameCount, INITIAL_PREVIEWS));
    } catch (error) {
      if (this.state.clip?.clip === clip) this.updateClip(() => ({ problem: toPanelError(error).detail }));
    }
  }

  /** Shows a segment frame; `fetchPreview` false while the scrubber is still moving. */
  setFrame(frame: number, fetchPreview = true): void {
    const count = this.state.clip?.segment.frameCount ?? 0;
    const clamped = Math.min(Math.max(0, Math.round(frame)), Math.max(0, count - 1));
    this.store.update({ currentFrame: clamped });
    if (fetchPreview) void this.ensurePreviews([clamped]);
  }

  private async ensurePreviews(frames: readonly number[]): Promise<void> {
    const current = this.state.clip;
    if (!current?.probe || current.problem) return;
    const wanted = frames.filter((f) => !current.previews[f] && !this.previewsInFlight.has(f));
    if (wanted.length === 0) return;
    wanted.forEach((f) => this.previewsInFlight.add(f));
    try {
      const { files } = await this.env.client.request('previewFrames', {
        path: current.clip.mediaPath,
        frames: wanted.map((f) => current.segment.startFrame + f),
        outDir: this.env.previews.dir,
        maxWidth: PREVIEW_MAX_WIDTH,
      });
      if (this.state.clip?.clip !== current.clip) return;
      const added: Record<number, PreviewImage> = {};
      for (const file of files) {
        added[file.frame - current.segment.startFrame] = { url: this.env.previews.urlFor(file.path), width: file.width, height: file.height };
      }
      this.updateClip((c) => ({ previews: { ...c.previews, ...added } }));
    } catch (error) {
      this.store.update({ notice: toPanelError(error) });
    } finally {
      wanted.forEach((f) => this.previewsInFlight.delete(f));
    }
  }

  // ---- prompts and words ----

  setSourcePrompt(text: string): void {
    this.store.update({ sourcePrompt: text });
  }

  setPrompt(text: string): void {
    this.store.update({ prompt: text });
    this.scheduleTokenize(TOKENIZE_DELAY_MS);
  }

  private scheduleTokenize(delayMs: number): void {
    if (this.tokenizeTimer) clearTimeout(this.tokenizeTimer);
    this.tokenizeTimer = setTimeout(() => void this.tokenize(), delayMs);
  }

  private async tokenize(): Promise<void> {
    const prompt = this.state.prompt;
    if (!prompt.trim()) {
      this.store.update({ tokens: [], tokensTruncated: false, regions: this.relocated([]) });
      return;
    }
    if (this.state.connection.status !== 'connected') return;
    try {
      const { tokens, truncated } = await this.env.client.request('tokenize', { prompt });
      if (this.state.prompt !== prompt) return;
      this.store.update({ tokens, tokensTruncated: truncated, regions: this.relocated(tokens) });
    } catch (error) {
      this.store.update({ notice: toPanelError(error) });
    }
  }

  /** Regions follow their words when the prompt changes. */
  private relocated(tokens: PanelState['tokens']): Region[] {
    const taken = new Set<number>();
    return this.state.regions.map((region) => {
      const position = relocateWord(tokens, region.word, region.tokenPosition ?? -1, taken);
      if (position !== null) taken.add(position);
      return { ...region, tokenPosition: position };
    });
  }

  /** A click on a token chip: the word's region becomes active, created if it has none. */
  pickWord(tokenPosition: number): void {
    const word = wordAtToken(this.state.tokens, tokenPosition);
    if (!word) return;
    const existing = this.state.regions.find((r) => r.tokenPosition === word.position);
    if (existing) {
      this.store.update({ activeRegionId: existing.id });
      return;
    }
    const orphan = this.state.regions.find((r) => r.id === this.state.activeRegionId && r.tokenPosition === null);
    if (orphan) {
      this.replaceRegion(orphan.id, () => ({ word: word.text, tokenPosition: word.position }));
      return;
    }
    if (this.state.regions.length >= MAX_REGIONS) {
      this.store.update({ notice: { code: 'HOST', title: 'Too many regions', detail: `An edit can place at most ${MAX_REGIONS} objects.` } });
      return;
    }
    const region = newRegion(`region-${this.nextRegionId++}`, word.text, word.position, this.state.regions);
    this.store.update({ regions: [...this.state.regions, region], activeRegionId: region.id });
  }

  selectRegion(id: string): void {
    this.store.update({ activeRegionId: id });
  }

  deleteRegion(id: string): void {
    const regions = this.state.regions.filter((r) => r.id !== id);
    this.store.update({ regions, activeRegionId: this.state.activeRegionId === id ? (regions[0]?.id ?? null) : this.state.activeRegionId });
  }

  private replaceRegion(id: string, change: (region: Region) => Partial<Region>): void {
    this.store.update((s) => ({ regions: s.regions.map((r) => (r.id === id ? { ...r, ...change(r) } : r)) }));
  }

  /** Sets the region's box (clip pixels) at a segment frame: a keyframe. */
  setBox(id: string, frame: number, box: BoxPx): void {
    this.replaceRegion(id, (r) => ({
      source: { kind: 'boxes', keyframes: setKeyframe(r.source.kind === 'boxes' ? r.source.keyframes : [], frame, box) },
    }));
  }

  deleteKeyframe(id: string, frame: number): void {
    this.replaceRegion(id, (r) => (r.source.kind === 'boxes' ? { source: { kind: 'boxes', keyframes: deleteKeyframe(r.source.keyframes, frame) } } : {}));
  }

  async importMask(id: string): Promise<void> {
    try {
      const dir = await this.env.pickFolder();
      if (dir) this.replaceRegion(id, () => ({ source: { kind: 'mask-sequence', dir } }));
    } catch (error) {
      this.store.update({ notice: toPanelError(error) });
    }
  }

  useBoxes(id: string): void {
    this.replaceRegion(id, () => ({ source: { kind: 'boxes', keyframes: [] } }));
  }

  setOptions(change: Partial<EditOptions>): void {
    this.store.update((s) => ({ options: { ...s.options, ...change } }));
  }

  dismissNotice(): void {
    this.store.update({ notice: null });
  }

  // ---- the edit ----

  async run(): Promise<void> {
    const state = this.state;
    if (isJobActive(state.job) || !state.clip) return;
    const build = buildJob(state, this.env.previews.dir);
    if (!build.ok) {
      this.store.update({ notice: { code: 'HOST', title: 'Not ready to run', detail: build.problem } });
      return;
    }
    const job: JobState = {
      id: null,
      status: 'submitting',
      clip: state.clip.clip,
      segment: state.clip.segment,
      stage: null,
      fraction: 0,
      etaMs: null,
      elapsedMs: 0,
      queuePosition: null,
      output: null,
      before: [],
      after: [],
      error: null,
    };
    this.earlyEvents.length = 0;
    this.store.update({ job, notice: null, placement: { status: 'idle' } });
    try {
      const { jobId } = await this.env.client.request('submit', { job: build.job });
      this.updateJob(() => ({ id: jobId, status: 'queued' }));
      for (const event of this.earlyEvents.splice(0)) this.jobEvent(event);
      await this.env.client.watch(jobId);
    } catch (error) {
      this.updateJob(() => ({ status: 'failed', error: toPanelError(error) }));
    }
  }

  async cancel(): Promise<void> {
    const job = this.state.job;
    if (!job?.id || !isJobActive(job)) return;
    this.updateJob(() => ({ status: 'cancelling' }));
    try {
      await this.env.client.request('cancel', { jobId: job.id });
    } catch (error) {
      this.store.update({ notice: toPanelError(error) });
    }
  }

  private updateJob(change: (job: JobState) => Partial<JobState>): void {
    this.store.update((s) => (s.job ? { job: { ...s.job, ...change(s.job) } } : {}));
  }

  private jobEvent(event: JobEvent): void {
    const job = this.state.job;
    if (!job) return;
    if (job.id === null) {
      if (job.status === 'submitting') this.earlyEvents.push(event);
      return;
    }
    if (event.jobId !== job.id) return;
    const running = job.status === 'cancelling' ? 'cancelling' : 'running';
    switch (event.kind) {
      case 'queued':
        return this.updateJob(() => ({ status: 'queued', queuePosition: event.position }));
      case 'stage':
        return this.updateJob(() => ({ status: running, stage: event.stage, queuePosition: null }));
      case 'progress':
        return this.updateJob(() => ({
          status: running,
          stage: event.stage,
          fraction: event.fraction,
          etaMs: event.etaMs,
          elapsedMs: event.elapsedMs,
          queuePosition: null,
        }));
      case 'heartbeat':
        return this.updateJob(() => ({ elapsedMs: event.elapsedMs }));
      case 'done': {
        const url = (path: string) => this.env.previews.urlFor(path);
        this.updateJob(() => ({
          status: 'done',
          fraction: 1,
          etaMs: 0,
          output: event.output,
          before: (event.output.previews?.before ?? []).map(url),
          after: (event.output.previews?.after ?? []).map(url),
        }));
        return;
      }
      case 'failed':
        return this.updateJob(() => ({ status: 'failed', error: describeError(event.error.code, event.error.message) }));
      case 'cancelled':
        return this.updateJob(() => ({ status: 'cancelled', etaMs: null }));
    }
  }

  // ---- back to the timeline ----

  setPlaceMode(mode: PlacementMode): void {
    this.store.update({ placeMode: mode });
  }

  async place(): Promise<void> {
    const job = this.state.job;
    if (job?.status !== 'done' || !job.output) return;
    this.store.update({ placement: { status: 'working', what: 'place' } });
    try {
      const report = await this.env.host.placeResult({
        clip: job.clip,
        resultPath: job.output.path,
        segmentStartFrame: job.segment.startFrame,
        mode: this.state.placeMode,
      });
      this.store.update({ placement: { status: 'placed', report } });
    } catch (error) {
      this.store.update({ placement: { status: 'failed', error: toPanelError(error) } });
    }
  }

  async importOnly(): Promise<void> {
    const job = this.state.job;
    if (job?.status !== 'done' || !job.output) return;
    this.store.update({ placement: { status: 'working', what: 'import' } });
    try {
      const item = await this.env.host.importResult(job.output.path);
      this.store.update({ placement: { status: 'imported', item } });
    } catch (error) {
      this.store.update({ placement: { status: 'failed', error: toPanelError(error) } });
    }
  }
}
