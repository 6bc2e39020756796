/**
 * One region per object word: where the new object must be, as a box track (keyframes in clip pixels)
 * or an imported mask-sequence folder. Pure data and functions.
 */
import type { BoxKeyframe } from '@reatco/helper-service/regions';
import type { JobSpecInput } from '@reatco/helper-service/protocol';

/** The helper's preview outline colours, in the same order, so panel and previews agree. */
export const REGION_COLOURS = ['#ff3b30', '#0a84ff', '#34c759', '#ffcc00', '#af52de', '#5ac8fa'] as const;

/** The protocol's limit on objects per job. */
export const MAX_REGIONS = 8;

export type RegionSource =
  | { readonly kind: 'boxes'; readonly keyframes: readonly BoxKeyframe[] }
  | { readonly kind: 'mask-sequence'; readonly dir: string };

export interface Region {
  readonly id: string;
  readonly colour: string;
  /** The object word, as it reads in the prompt. */
  readonly word: string;
  /** Token position of the word's first piece; null when the prompt changed and the word is gone. */
  readonly tokenPosition: number | null;
  readonly source: RegionSource;
}

export function newRegion(id: string, word: string, tokenPosition: number, existing: readonly Region[]): Region {
  const used = new Set(existing.map((r) => r.colour));
  const colour = REGION_COLOURS.find((c) => !used.has(c)) ?? REGION_COLOURS[existing.length % REGION_COLOURS.length]!;
  return { id, colour, word, tokenPosition, source: { kind: 'boxes', keyframes: [] } };
}

/** Why the region cannot go into a job yet, or null when it is ready. */
export function regionProblem(region: Region): string | null {
  if (region.tokenPosition === null) return `"${region.word}" is no longer in the edited prompt: pick its word again or delete the region.`;
  if (region.source.kind === 'boxes' && region.source.keyframes.length === 0) return `Draw a box for "${region.word}" on the frame.`;
  return null;
}

type EditObjectInput = JobSpecInput['objects'][number];

export function toEditObject(region: Region): EditObjectInput {
  if (region.tokenPosition === null) throw new Error(regionProblem(region) ?? 'Region not ready.');
  const track: EditObjectInput['region'] =
    region.source.kind === 'boxes'
      ? { kind: 'boxes', keyframes: region.source.keyframes.map((k) => ({ frame: k.frame, box: [...k.box] as [number, number, number, number] })) }
      : { kind: 'mask-sequence', dir: region.source.dir };
  return { word: region.word, tokenIndex: region.tokenPosition, region: track };
}
