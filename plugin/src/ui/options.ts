/** Edit options: mode, quality, guidance, steps, seed. */
import type { Quality } from '@reatco/helper-service/protocol';
import type { PanelController } from '../state/controller';
import type { EditOptions, PanelState } from '../state/panel-state';
import { el, setAttr, setText, setValue, valueOf, type View } from './dom';

interface Choice<T extends string> {
  readonly value: T;
  readonly label: string;
}

const MODES: readonly Choice<EditOptions['mode']>[] = [
  { value: 'replace', label: 'Replace objects (keep the rest)' },
  { value: 'global', label: 'Global (the whole frame may change)' },
];
const QUALITIES: readonly Choice<Quality>[] = [
  { value: 'draft', label: 'Draft' },
  { value: 'standard', label: 'Standard' },
  { value: 'high', label: 'High' },
];

/** A built-in sp-picker with its sp-menu; read by selectedIndex, as UXP documents. */
function picker<T extends string>(choices: readonly Choice<T>[], test: string, onPick: (value: T) => void) {
  const items = choices.map((c) => el('sp-menu-item', { text: c.label, attrs: { value: c.value } }));
  const element = el('sp-picker', { className: 'wide', attrs: { 'data-test': test } }, el('sp-menu', { attrs: { slot: 'options' } }, ...items));
  element.addEventListener('change', () => {
    const index = Number((element as unknown as { selectedIndex?: number }).selectedIndex);
    const choice = choices[index];
    if (choice) onPick(choice.value);
  });
  return {
    element,
    select(value: T) {
      items.forEach((item, i) => setAttr(item, 'selected', choices[i]?.value === value));
    },
  };
}

/** A whole number typed in a text field, or null when empty or not a number. */
function wholeNumber(text: string): number | null {
  const value = Number(text.trim());
  return text.trim() !== '' && Number.isInteger(value) && value >= 0 ? value : null;
}

export function optionsView(controller: PanelController): View<PanelState> {
  const mode = picker(MODES, 'mode', (value) => controller.setOptions({ mode: value }));
  const quality = picker(QUALITIES, 'quality', (value) => controller.setOptions({ quality: value }));
  const guidanceLabel = el('div', { className: 'field-label' });
  const guidance = el('sp-slider', { className: 'wide', attrs: { min: 1, max: 20, step: 0.5, value: 12.5, 'data-test': 'guidance' } });
  guidance.addEventListener('input', () => controller.setOptions({ guidanceScale: Number((guidance as unknown as { value: unknown }).value) }));
  const steps = el('sp-textfield', { attrs: { type: 'number', 'data-test': 'steps' } });
  steps.addEventListener('input', () => controller.setOptions({ steps: wholeNumber(valueOf(steps)) || null }));
  const seed = el('sp-textfield', { attrs: { type: 'number', 'data-test': 'seed' } });
  seed.addEventListener('input', () => controller.setOptions({ seed: wholeNumber(valueOf(seed)) ?? 0 }));
  const element = el(
    'div',
    { className: 'section' },
    el('div', { className: 'section-title', text: 'Options' }),
    el('div', { className: 'field-label', text: 'Edit mode' }),
    mode.element,
    el('div', { className: 'field-label', text: 'Quality' }),
    quality.element,
    guidanceLabel,
    guidance,
    el(
      'div',
      { className: 'row' },
      el('div', { className: 'field' }, el('div', { className: 'field-label', text: 'Steps' }), steps),
      el('div', { className: 'field' }, el('div', { className: 'field-label', text: 'Seed' }), seed),
    ),
  );
  return {
    element,
    update(state, previous) {
      const o = state.options;
      if (previous?.options === o && previous.capabilities === state.capabilities) return;
      mode.select(o.mode);
      quality.select(o.quality);
      setText(guidanceLabel, `Guidance: ${o.guidanceScale}`);
      if (Number((guidance as unknown as { value: unknown }).value) !== o.guidanceScale) (guidance as unknown as { value: number }).value = o.guidanceScale;
      const defaultSteps = state.capabilities?.qualities[o.quality]?.steps;
      setAttr(steps, 'placeholder', defaultSteps ? `auto (${defaultSteps})` : 'auto');
      if (wholeNumber(valueOf(steps)) !== o.steps && !(o.steps === null && valueOf(steps) === '')) setValue(steps, o.steps === null ? '' : String(o.steps));
      if (wholeNumber(valueOf(seed)) !== o.seed) setValue(seed, String(o.seed));
    },
  };
}
