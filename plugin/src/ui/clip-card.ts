/** The clip the edit is for: name, place on the timeline, source range, a frame. */
import { ticksToSeconds } from '../host/ticks';
import type { PanelController } from '../state/controller';
import type { PanelState } from '../state/panel-state';
import { el, setAttr, setText, show, type View } from './dom';
import { formatFps, sequenceTimecode, sourceTimecode } from './format';

export function clipCardView(controller: PanelController): View<PanelState> {
  const thumb = el('img', { className: 'clip-thumb', attrs: { alt: '' } }) as HTMLImageElement;
  const name = el('div', { className: 'clip-name', attrs: { 'data-test': 'clip-name' } });
  const where = el('div', { className: 'detail' });
  const source = el('div', { className: 'detail' });
  const media = el('div', { className: 'detail' });
  const problem = el('div', { className: 'warning', attrs: { 'data-test': 'clip-problem' } });
  const message = el('div', { className: 'detail', attrs: { 'data-test': 'selection-message' } });
  const follow = el('sp-checkbox', {
    text: 'Follow timeline selection',
    on: { change: () => controller.setFollowSelection((follow as unknown as { checked: boolean }).checked) },
  });
  const info = el('div', { className: 'clip-info' }, name, where, source, media);
  const card = el('div', { className: 'row clip-card' }, thumb, info);
  const element = el('div', { className: 'section' }, el('div', { className: 'section-title', text: 'Clip' }), card, problem, message, follow);
  return {
    element,
    update(state) {
      setAttr(follow, 'checked', state.followSelection);
      const c = state.clip;
      show(card, !!c);
      show(message, !c);
      setText(message, state.selectionMessage ?? '');
      show(problem, !!c?.problem);
      setText(problem, c?.problem ?? '');
      if (!c) return;
      const { clip, segment, probe } = c;
      setText(name, clip.name);
      setText(where, `${clip.sequenceName} · V${clip.trackIndex + 1} · ${sequenceTimecode(clip.start, clip)} – ${sequenceTimecode(clip.end, clip)}${clip.disabled ? ' · disabled' : ''}`);
      setText(
        source,
        `Source ${sourceTimecode(segment.startFrame, clip)} – ${sourceTimecode(segment.startFrame + segment.frameCount, clip)} · ${segment.frameCount} frames · ${formatFps(clip.frameRate)} · ${ticksToSeconds(clip.end - clip.start).toFixed(2)} s`,
      );
      setText(media, probe ? `${probe.width}×${probe.height} · ${probe.videoCodec}${probe.variableFrameRate ? ' · variable frame rate' : ''}` : 'Reading the file…');
      const first = c.previews[0]?.url ?? '';
      if (thumb.getAttribute('src') !== first) {
        if (first) thumb.setAttribute('src', first);
        else thumb.removeAttribute('src');
      }
      show(thumb, !!first);
    },
  };
}
