/** The latest message that belongs to no section (a request that failed, a run that is not ready). */
import type { PanelController } from '../state/controller';
import type { PanelState } from '../state/panel-state';
import { el, setText, show, type View } from './dom';

export function noticeView(controller: PanelController): View<PanelState> {
  const title = el('div', { className: 'notice-title' });
  const detail = el('div', { className: 'detail' });
  const close = el('sp-action-button', { attrs: { size: 's', quiet: true }, text: 'Dismiss', on: { click: () => controller.dismissNotice() } });
  const element = el('div', { className: 'notice', attrs: { 'data-test': 'notice' } }, el('div', { className: 'row' }, title, close), detail);
  return {
    element,
    update(state) {
      show(element, !!state.notice);
      setText(title, state.notice?.title ?? '');
      setText(detail, state.notice?.detail ?? '');
    },
  };
}
