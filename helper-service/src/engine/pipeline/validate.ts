import { ValidationError } from '../../errors';
import { boxInsideFrame, type Size } from '../../regions';
import { editSettingsSchema, type EditSettings, type EditSettingsInput } from '../../server/protocol/settings';
import type { ModelManifest } from '../model-package';
import { cellsPerFrame, regionGrid, type ObjectRegion } from '../rad/masks';

/** Settings with the reference's defaults filled in; a bad value is an INVALID_SETTINGS error naming it. */
export function resolveSettings(input: EditSettingsInput | undefined): EditSettings {
  const parsed = editSettingsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError('INVALID_SETTINGS', `Setting "${issue.path.join('.') || '?'}": ${issue.message}.`, {
      issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    });
  }
  return parsed.data;
}

export function checkFrames(frames: readonly Uint8Array[], size: Size, manifest: ModelManifest): void {
  const multiple = manifest.frame.multiple;
  if (frames.length === 0) throw new ValidationError('FRAME_SIZE_INVALID', 'The clip has no frames.');
  if (size.width % multiple || size.height % multiple || size.width <= 0 || size.height <= 0) {
    throw new ValidationError(
      'FRAME_SIZE_INVALID',
      `The working size ${size.width}x${size.height} is not a multiple of ${multiple} pixels on both sides, which this model needs.`,
    );
  }
  const bytes = size.width * size.height * 3;
  const bad = frames.findIndex((f) => f.length !== bytes);
  if (bad >= 0) throw new ValidationError('FRAME_SIZE_INVALID', `Frame ${bad} is not a ${size.width}x${size.height} RGB image.`);
}

export function checkSettings(settings: EditSettings, frames: number): void {
  const perWindow = Math.min(settings.window ?? frames, frames);
  if (settings.rad && perWindow < 2) {
    throw new ValidationError(
      'INVALID_SETTINGS',
      'RAD needs at least 2 frames per window (its smoothing runs across frames): use a longer clip or a larger window.',
    );
  }
}

/** Checks an object's region against the frame and the attention grid; returns its grid cells per frame. */
export function checkRegion(region: ObjectRegion, objectIndex: number, frames: number, size: Size, attentionCellPx: number): void {
  const label = `Region ${objectIndex + 1}`;
  if (region.kind === 'boxes') {
    if (region.keyframes.length === 0) throw new ValidationError('INVALID_SETTINGS', `${label} has no box.`);
    for (const keyframe of region.keyframes) {
      if (!boxInsideFrame(keyframe.box, size)) {
        throw new ValidationError(
          'REGION_OUT_OF_FRAME',
          `${label} at frame ${keyframe.frame} lies outside the ${size.width}x${size.height} frame or has no area.`,
          { box: keyframe.box },
        );
      }
    }
  } else {
    if (region.masks.length !== 1 && region.masks.length !== frames) {
      throw new ValidationError('INVALID_SETTINGS', `${label} has ${region.masks.length} masks for ${frames} frames.`);
    }
    const bad = region.masks.findIndex((m) => m.length !== size.width * size.height);
    if (bad >= 0) throw new ValidationError('FRAME_SIZE_INVALID', `${label}: mask ${bad} is not ${size.width}x${size.height}.`);
  }
  const cells = cellsPerFrame(regionGrid(region, frames, size, attentionCellPx), frames);
  const empty = cells.findIndex((n) => n === 0);
  if (empty >= 0) {
    throw new ValidationError(
      'REGION_TOO_SMALL',
      `${label} covers less than one ${attentionCellPx}x${attentionCellPx}-pixel cell at frame ${empty}: the model cannot place an object there. Make it larger.`,
    );
  }
}

/** Token positions must point at a word of the prompt (not the start, end or padding tokens). */
export function checkTokenIndex(tokenIndex: number, promptTokens: number, objectIndex: number): void {
  if (!Number.isInteger(tokenIndex) || tokenIndex < 1 || tokenIndex > promptTokens) {
    throw new ValidationError(
      'TOKEN_INDEX_INVALID',
      `Object ${objectIndex + 1} points at token ${tokenIndex}, but the prompt's words are tokens 1 to ${promptTokens}.`,
    );
  }
}
