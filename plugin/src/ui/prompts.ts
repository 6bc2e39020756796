/** Source and edited prompts, and the edited prompt as token chips to pick each region's object word. */
import type { PanelController } from '../state/controller';
import type { PanelState } from '../state/panel-state';
import { multiTokenWarning, wordAtToken, wordsOf } from '../regions/words';
import { el, replaceChildren, setText, setValue, show, valueOf, type View } from './dom';

export function promptsView(controller: PanelController): View<PanelState> {
  const source = el('sp-textfield', {
    className: 'wide',
    attrs: { placeholder: 'What the shot shows now (optional)', 'data-test': 'source-prompt' },
    on: { input: () => controller.setSourcePrompt(valueOf(source)) },
  });
  const edited = el('sp-textarea', {
    className: 'wide',
    attrs: { placeholder: 'What the shot should show, e.g. a jellyfish and a goldfish swimming in the blue ocean', 'data-test': 'prompt' },
    on: { input: () => controller.setPrompt(valueOf(edited)) },
  });
  const chips = el('div', { className: 'chips', attrs: { 'data-test': 'chips' } });
  const chipsHint = el('div', { className: 'detail', text: 'Click the object word for each region:' });
  const warnings = el('div', { className: 'warning' });
  const element = el(
    'div',
    { className: 'section' },
    el('div', { className: 'section-title', text: 'Prompts' }),
    el('div', { className: 'field-label', text: 'Source prompt' }),
    source,
    el('div', { className: 'field-label', text: 'Edited prompt' }),
    edited,
    chipsHint,
    chips,
    warnings,
  );
  return {
    element,
    update(state, previous) {
      setValue(source, state.sourcePrompt);
      setValue(edited, state.prompt);
      show(chipsHint, state.tokens.length > 0);
      if (previous && previous.tokens === state.tokens && previous.regions === state.regions && previous.activeRegionId === state.activeRegionId) return;
      const colourAt = new Map(state.regions.filter((r) => r.tokenPosition !== null).map((r) => [r.tokenPosition!, r]));
      const words = wordsOf(state.tokens);
      replaceChildren(
        chips,
        state.tokens.map((token) => {
          const word = wordAtToken(state.tokens, token.position);
          const region = word ? colourAt.get(word.position) : undefined;
          const chip = el('div', {
            className: `chip${token.wordStart ? '' : ' continues'}${region ? ' bound' : ''}${region && region.id === state.activeRegionId ? ' active' : ''}`,
            text: token.text,
            attrs: { 'data-test': `chip-${token.position}`, title: token.wordStart ? '' : 'continues the previous word' },
            on: { click: () => controller.pickWord(token.position) },
          });
          if (region) chip.style.borderColor = region.colour;
          return chip;
        }),
      );
      const bound = words.filter((w) => colourAt.has(w.position));
      const lines = bound.map(multiTokenWarning).filter((w): w is string => w !== null);
      if (state.tokensTruncated) lines.push('The prompt is longer than the model reads (75 tokens); the end is ignored.');
      setText(warnings, lines.join(' '));
      show(warnings, lines.length > 0);
    },
  };
}
