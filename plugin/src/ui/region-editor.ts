/**
 * Region tracks: a list of regions (one colour per object word), a preview frame with the boxes as
 * positioned divs over an <img> (UXP's canvas cannot draw images), a scrubber and the keyframes.
 * Boxes are edited with pointer events in display pixels and stored in clip pixels (mapping.ts).
 */
import type { BoxPx, Size } from '@reatco/helper-service/regions';
import { boxAt, hasKeyframeAt } from '../regions/keyframes';
import {
  boxFromCorners,
  clipBoxToPercent,
  displayPointToClip,
  isUsableBox,
  moveBox,
  resizeBox,
  roundBoxToFrame,
  type Handle,
  type Point,
} from '../regions/mapping';
import type { Region } from '../regions/region';
import type { PanelController } from '../state/controller';
import type { ClipState, PanelState } from '../state/panel-state';
import { el, replaceChildren, setAttr, setText, show, type View } from './dom';
import { sourceTimecode } from './format';

/** Smallest box side, in clip pixels, that a drag creates (smaller drags are clicks). */
const MIN_DRAWN_PX = 4;
const HANDLES: readonly Handle[] = ['nw', 'ne', 'sw', 'se'];

interface Drag {
  readonly kind: 'draw' | 'move' | 'resize';
  readonly regionId: string;
  readonly frame: number;
  readonly origin: Point;
  readonly startBox: BoxPx | null;
  readonly handle: Handle | null;
  box: BoxPx | null;
}

function nearestPreview(clip: ClipState, frame: number): string | null {
  const frames = Object.keys(clip.previews).map(Number);
  if (frames.length === 0) return null;
  const best = frames.reduce((a, b) => (Math.abs(b - frame) < Math.abs(a - frame) ? b : a));
  return clip.previews[best]?.url ?? null;
}

function regionSummary(region: Region): string {
  if (region.tokenPosition === null) return 'word no longer in the prompt';
  if (region.source.kind === 'mask-sequence') return `mask folder ${region.source.dir}`;
  const n = region.source.keyframes.length;
  return n === 0 ? 'no box yet' : `${n} keyframe${n === 1 ? '' : 's'}`;
}

export function regionEditorView(controller: PanelController): View<PanelState> {
  let state: PanelState | null = null;
  let drag: Drag | null = null;

  const list = el('div', { className: 'region-list', attrs: { 'data-test': 'regions' } });
  const image = el('img', { className: 'frame', attrs: { alt: '', draggable: 'false', 'data-test': 'frame' } }) as HTMLImageElement;
  const boxes = el('div', { className: 'boxes' });
  const stage = el('div', { className: 'stage', attrs: { 'data-test': 'stage' } }, image, boxes);
  const placeholder = el('div', { className: 'stage-placeholder', text: 'Loading the frame…' });
  const slider = el('sp-slider', { className: 'wide', attrs: { min: 0, max: 0, value: 0, step: 1, 'data-test': 'scrub' } });
  const frameLabel = el('div', { className: 'detail', attrs: { 'data-test': 'frame-label' } });
  const keyframes = el('div', { className: 'chips', attrs: { 'data-test': 'keyframes' } });
  const deleteKey = el('sp-action-button', { attrs: { size: 's' }, text: 'Delete keyframe' });
  const hint = el('div', { className: 'detail hint' });
  const editor = el('div', {}, stage, placeholder, slider, frameLabel, el('div', { className: 'row' }, keyframes, deleteKey), hint);
  const empty = el('div', { className: 'detail', text: 'Pick an object word in the edited prompt to add its region.' });
  const element = el('div', { className: 'section' }, el('div', { className: 'section-title', text: 'Regions' }), list, empty, editor);

  const activeRegion = (): Region | null => state?.regions.find((r) => r.id === state?.activeRegionId) ?? null;
  const clipSize = (): Size | null => (state?.clip?.probe ? { width: state.clip.probe.width, height: state.clip.probe.height } : null);

  const sliderValue = () => Number((slider as unknown as { value: unknown }).value) || 0;
  slider.addEventListener('input', () => controller.setFrame(sliderValue(), false));
  slider.addEventListener('change', () => controller.setFrame(sliderValue(), true));
  deleteKey.addEventListener('click', () => {
    const region = activeRegion();
    if (region && state) controller.deleteKeyframe(region.id, state.currentFrame);
  });

  function pointerInClip(event: PointerEvent): Point | null {
    const size = clipSize();
    const rect = stage.getBoundingClientRect();
    if (!size || rect.width === 0 || rect.height === 0) return null;
    return displayPointToClip({ x: event.clientX - rect.left, y: event.clientY - rect.top }, { width: rect.width, height: rect.height }, size);
  }

  stage.addEventListener('pointerdown', (event) => {
    const region = activeRegion();
    const point = pointerInClip(event);
    if (!state || !region || region.source.kind !== 'boxes' || !point) return;
    const target = event.target as Element;
    const handle = target.getAttribute('data-handle') as Handle | null;
    const onBox = target.getAttribute('data-box') === 'active';
    const current = boxAt(region.source.keyframes, state.currentFrame);
    const kind = handle && current ? 'resize' : onBox && current ? 'move' : 'draw';
    drag = { kind, regionId: region.id, frame: state.currentFrame, origin: point, startBox: current, handle, box: null };
    stage.setPointerCapture(event.pointerId);
    event.preventDefault();
  });

  stage.addEventListener('pointermove', (event) => {
    const size = clipSize();
    const point = pointerInClip(event);
    if (!drag || !size || !point) return;
    if (drag.kind === 'draw') drag.box = boxFromCorners(drag.origin, point);
    else if (drag.kind === 'move' && drag.startBox) drag.box = moveBox(drag.startBox, point.x - drag.origin.x, point.y - drag.origin.y, size);
    else if (drag.kind === 'resize' && drag.startBox && drag.handle) drag.box = resizeBox(drag.startBox, drag.handle, point, size, MIN_DRAWN_PX);
    renderBoxes();
  });

  const endDrag = (event: PointerEvent) => {
    const size = clipSize();
    const finished = drag;
    drag = null;
    if (stage.hasPointerCapture?.(event.pointerId)) stage.releasePointerCapture(event.pointerId);
    if (!finished?.box || !size) return renderBoxes();
    const box = roundBoxToFrame(finished.box, size);
    if (isUsableBox(box, size, MIN_DRAWN_PX)) controller.setBox(finished.regionId, finished.frame, box);
    else renderBoxes();
  };
  stage.addEventListener('pointerup', endDrag);
  stage.addEventListener('pointercancel', endDrag);

  function boxElement(region: Region, box: BoxPx, size: Size, active: boolean, keyframe: boolean): HTMLElement {
    const div = el('div', {
      className: `box${active ? ' active' : ''}${keyframe ? ' keyframe' : ''}`,
      attrs: { 'data-box': active ? 'active' : 'other', 'data-test': `box-${region.id}` },
    });
    Object.assign(div.style, clipBoxToPercent(box, size), { borderColor: region.colour });
    div.appendChild(el('div', { className: 'box-label', text: region.word, attrs: { 'data-box': active ? 'active' : 'other' } }));
    (div.lastChild as HTMLElement).style.backgroundColor = region.colour;
    if (active) for (const handle of HANDLES) div.appendChild(el('div', { className: `handle ${handle}`, attrs: { 'data-handle': handle } }));
    return div;
  }

  function renderBoxes(): void {
    const size = clipSize();
    if (!state || !size) return replaceChildren(boxes, []);
    const frame = state.currentFrame;
    const children: HTMLElement[] = [];
    for (const region of state.regions) {
      if (region.source.kind !== 'boxes') continue;
      const active = region.id === state.activeRegionId;
      const dragging = drag && drag.regionId === region.id && drag.box;
      const box = dragging ? drag!.box : boxAt(region.source.keyframes, frame);
      if (box) children.push(boxElement(region, box, size, active, !!dragging || hasKeyframeAt(region.source.keyframes, frame)));
    }
    replaceChildren(boxes, children);
  }

  function renderList(s: PanelState): void {
    replaceChildren(
      list,
      s.regions.map((region) => {
        const active = region.id === s.activeRegionId;
        const swatch = el('div', { className: 'swatch' });
        swatch.style.backgroundColor = region.colour;
        const isMask = region.source.kind === 'mask-sequence';
        return el(
          'div',
          { className: `region-row${active ? ' active' : ''}`, attrs: { 'data-test': `region-${region.word}` } },
          swatch,
          el('div', { className: 'region-word', text: region.word, on: { click: () => controller.selectRegion(region.id) } }),
          el('div', { className: 'detail region-summary', text: regionSummary(region), on: { click: () => controller.selectRegion(region.id) } }),
          el('sp-action-button', {
            attrs: { size: 's', quiet: true },
            text: isMask ? 'Use boxes' : 'Mask folder…',
            on: { click: () => (isMask ? controller.useBoxes(region.id) : void controller.importMask(region.id)) },
          }),
          el('sp-action-button', { attrs: { size: 's', quiet: true }, text: 'Delete', on: { click: () => controller.deleteRegion(region.id) } }),
        );
      }),
    );
  }

  return {
    element,
    update(next, previous) {
      state = next;
      const clip = next.clip;
      show(empty, next.regions.length === 0);
      if (!previous || previous.regions !== next.regions || previous.activeRegionId !== next.activeRegionId) renderList(next);
      show(editor, !!clip);
      if (!clip) return;
      const count = clip.segment.frameCount;
      setAttr(slider, 'max', Math.max(0, count - 1));
      if (sliderValue() !== next.currentFrame) (slider as unknown as { value: number }).value = next.currentFrame;
      const url = nearestPreview(clip, next.currentFrame);
      if (url && image.getAttribute('src') !== url) image.setAttribute('src', url);
      show(stage, !!url);
      show(placeholder, !url);
      const exact = !!clip.previews[next.currentFrame];
      setText(
        frameLabel,
        `Frame ${next.currentFrame + 1} of ${count} · ${sourceTimecode(clip.segment.startFrame + next.currentFrame, clip.clip)}${exact || !url ? '' : ' · loading this frame…'}`,
      );
      const region = activeRegion();
      const keys = region?.source.kind === 'boxes' ? region.source.keyframes : [];
      replaceChildren(
        keyframes,
        keys.map((k) =>
          el('div', {
            className: `chip${k.frame === next.currentFrame ? ' active' : ''}`,
            text: `Key ${k.frame + 1}`,
            on: { click: () => controller.setFrame(k.frame, true) },
          }),
        ),
      );
      setAttr(deleteKey, 'disabled', !hasKeyframeAt(keys, next.currentFrame));
      setText(
        hint,
        !region
          ? 'Pick an object word to edit its region.'
          : region.source.kind === 'mask-sequence'
            ? `"${region.word}" uses the mask images in ${region.source.dir}.`
            : keys.length === 0
              ? `Drag on the frame to draw where "${region.word}" must be.`
              : `Scrub to another frame and move or resize the box to add a keyframe; boxes between keyframes follow a straight line.`,
      );
      renderBoxes();
    },
  };
}
