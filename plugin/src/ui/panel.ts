/** The whole panel: sections in order, each rendering from the store (never from the socket). */
import type { PanelController } from '../state/controller';
import type { PanelState } from '../state/panel-state';
import type { Store } from '../state/store';
import { clipCardView } from './clip-card';
import { el, show, type View } from './dom';
import { helperStatusView } from './helper-status';
import { noticeView } from './notice';
import { optionsView } from './options';
import { promptsView } from './prompts';
import { regionEditorView } from './region-editor';
import { resultView } from './result';
import { runProgressView } from './run-progress';

export function mountPanel(root: HTMLElement, store: Store<PanelState>, controller: PanelController): () => void {
  const views: View<PanelState>[] = [
    helperStatusView(controller),
    noticeView(controller),
    clipCardView(controller),
    promptsView(controller),
    regionEditorView(controller),
    optionsView(controller),
    runProgressView(controller),
    resultView(controller),
  ];
  // Each section after the first sits under a divider that hides with it.
  const blocks = views.map((view, i) => (i === 0 ? view.element : el('div', {}, el('sp-divider', { attrs: { size: 's' } }), view.element)));
  root.appendChild(el('div', { className: 'panel' }, ...blocks));
  const render = (state: PanelState, previous: PanelState | null) => {
    views.forEach((view, i) => {
      view.update(state, previous);
      show(blocks[i]!, view.element.style.display !== 'none');
    });
  };
  render(store.state, null);
  return store.subscribe(render);
}
