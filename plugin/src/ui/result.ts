/** The finished edit: before/after previews, placing it on the timeline (A/B or replace), importing only. */
import type { PanelController } from '../state/controller';
import type { PanelState } from '../state/panel-state';
import { el, replaceChildren, setAttr, setText, show, type View } from './dom';

const UNDO_HINT =
  'One Edit › Undo (Ctrl/Cmd+Z) puts the timeline back as it was. The imported file stays in the ReAtCo bin: Premiere cannot undo imports.';

function placementText(state: PanelState): { text: string; warning: boolean } {
  const p = state.placement;
  switch (p.status) {
    case 'idle':
      return { text: '', warning: false };
    case 'working':
      return { text: p.what === 'place' ? 'Placing on the timeline…' : 'Importing…', warning: false };
    case 'imported':
      return { text: `Imported "${p.item.name}" into the ${p.item.binName} bin.`, warning: false };
    case 'failed':
      return { text: `${p.error.title}: ${p.error.detail}`, warning: true };
    case 'placed': {
      const { report } = p;
      if (!report.ok) return { text: `Placed, but the timeline does not match: ${report.problems.join(' ')} Undo to restore the original.`, warning: true };
      const where = report.placed ? `V${report.placed.trackIndex + 1}` : 'the timeline';
      return {
        text:
          report.mode === 'ab'
            ? `Placed on ${where} above the original and disabled the original (undo step "${report.undoLabel}").`
            : `Replaced the original on ${where} (undo step "${report.undoLabel}").`,
        warning: false,
      };
    }
  }
}

export function resultView(controller: PanelController): View<PanelState> {
  let shown = 0;
  let latest: PanelState | null = null;
  const before = el('img', { className: 'result-image', attrs: { alt: 'before', 'data-test': 'before' } });
  const after = el('img', { className: 'result-image', attrs: { alt: 'after', 'data-test': 'after' } });
  const pick = el('div', { className: 'chips' });
  const replace = el('sp-checkbox', {
    text: 'Replace the original (instead of a new clip on the track above)',
    attrs: { 'data-test': 'replace' },
    on: { change: () => controller.setPlaceMode((replace as unknown as { checked: boolean }).checked ? 'replace' : 'ab') },
  });
  const place = el('sp-button', { attrs: { variant: 'accent', 'data-test': 'place' }, text: 'Place on timeline', on: { click: () => void controller.place() } });
  const importOnly = el('sp-button', { attrs: { variant: 'secondary', 'data-test': 'import' }, text: 'Import only', on: { click: () => void controller.importOnly() } });
  const report = el('div', { className: 'detail', attrs: { 'data-test': 'placement' } });
  const element = el(
    'div',
    { className: 'section', attrs: { 'data-test': 'result' } },
    el('div', { className: 'section-title', text: 'Result' }),
    el('div', { className: 'row pair' }, el('div', { className: 'half' }, el('div', { className: 'detail', text: 'Before' }), before), el('div', { className: 'half' }, el('div', { className: 'detail', text: 'After' }), after)),
    pick,
    replace,
    el('div', { className: 'row' }, place, importOnly),
    report,
    el('div', { className: 'detail hint', text: UNDO_HINT }),
  );

  function showPair(state: PanelState): void {
    const job = state.job;
    const src = (list: readonly string[]) => list[Math.min(shown, list.length - 1)] ?? '';
    for (const [img, list] of [[before, job?.before ?? []], [after, job?.after ?? []]] as const) {
      const url = src(list);
      if (url && img.getAttribute('src') !== url) img.setAttribute('src', url);
    }
  }

  return {
    element,
    update(state, previous) {
      latest = state;
      const job = state.job;
      show(element, job?.status === 'done');
      if (job?.status !== 'done') return;
      if (previous?.job !== job) {
        const labels = job.after.length === 3 ? ['First', 'Middle', 'Last'] : job.after.map((_, i) => `Frame ${i + 1}`);
        replaceChildren(
          pick,
          labels.map((label, i) =>
            el('div', {
              className: `chip${i === shown ? ' active' : ''}`,
              text: label,
              on: {
                click: () => {
                  shown = i;
                  if (latest) showPair(latest);
                  Array.from(pick.children).forEach((c, k) => c.classList.toggle('active', k === i));
                },
              },
            }),
          ),
        );
        showPair(state);
      }
      setAttr(replace, 'checked', state.placeMode === 'replace');
      const working = state.placement.status === 'working';
      setAttr(place, 'disabled', working);
      setAttr(importOnly, 'disabled', working);
      const { text, warning } = placementText(state);
      setText(report, text);
      report.className = warning ? 'warning' : 'detail';
    },
  };
}
