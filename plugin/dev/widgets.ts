/**
 * Stand-ins for UXP's built-in Spectrum widgets, for the browser development page only (never in the
 * UXP bundle, where the host provides the real ones). Same tag names, attributes, properties and
 * events as the panel uses them: value/input/change, checked/change, selectedIndex/change, value/max.
 */

/** Re-dispatches a native event from the stand-in itself, as the UXP widget would fire it. */
function relay(host: HTMLElement, inner: HTMLElement, type: 'input' | 'change'): void {
  inner.addEventListener(type, (event) => {
    event.stopPropagation();
    host.dispatchEvent(new Event(type, { bubbles: true }));
  });
}

class TextWidget extends HTMLElement {
  static observedAttributes = ['placeholder', 'type', 'disabled'];
  protected field: HTMLInputElement | HTMLTextAreaElement;
  private pending = '';

  constructor(multiline: boolean) {
    super();
    this.field = document.createElement(multiline ? 'textarea' : 'input');
    this.field.className = 'standin-field';
    relay(this, this.field, 'input');
    relay(this, this.field, 'change');
  }

  connectedCallback(): void {
    if (this.field.parentNode !== this) {
      this.appendChild(this.field);
      this.field.value = this.pending;
    }
    this.sync();
  }

  attributeChangedCallback(): void {
    this.sync();
  }

  private sync(): void {
    this.field.placeholder = this.getAttribute('placeholder') ?? '';
    this.field.disabled = this.hasAttribute('disabled');
    if (this.field instanceof HTMLInputElement) this.field.type = this.getAttribute('type') === 'number' ? 'number' : 'text';
  }

  get value(): string {
    return this.field.parentNode ? this.field.value : this.pending;
  }

  set value(value: string) {
    this.pending = String(value);
    this.field.value = this.pending;
  }
}

class SpTextfield extends TextWidget {
  constructor() {
    super(false);
  }
}

class SpTextarea extends TextWidget {
  constructor() {
    super(true);
  }
}

class SpSlider extends HTMLElement {
  static observedAttributes = ['min', 'max', 'step', 'value', 'disabled'];
  private readonly range = document.createElement('input');

  constructor() {
    super();
    this.range.type = 'range';
    this.range.className = 'standin-range';
    relay(this, this.range, 'input');
    relay(this, this.range, 'change');
  }

  connectedCallback(): void {
    if (this.range.parentNode !== this) this.appendChild(this.range);
    this.attributeChangedCallback();
  }

  attributeChangedCallback(): void {
    for (const name of ['min', 'max', 'step'] as const) this.range[name] = this.getAttribute(name) ?? this.range[name];
    if (this.hasAttribute('value')) this.range.value = this.getAttribute('value')!;
    this.range.disabled = this.hasAttribute('disabled');
  }

  get value(): number {
    return Number(this.range.value);
  }

  set value(value: number) {
    this.range.value = String(value);
  }
}

class SpCheckbox extends HTMLElement {
  static observedAttributes = ['checked', 'disabled'];
  private readonly box = document.createElement('input');

  constructor() {
    super();
    this.box.type = 'checkbox';
    relay(this, this.box, 'change');
  }

  connectedCallback(): void {
    if (this.box.parentNode === this) return;
    const label = document.createElement('label');
    label.className = 'standin-checkbox';
    label.appendChild(this.box);
    while (this.firstChild) label.appendChild(this.firstChild);
    this.appendChild(label);
    this.attributeChangedCallback();
  }

  attributeChangedCallback(): void {
    this.box.checked = this.hasAttribute('checked');
    this.box.disabled = this.hasAttribute('disabled');
  }

  get checked(): boolean {
    return this.box.checked;
  }

  set checked(value: boolean) {
    this.box.checked = value;
  }
}

/** sp-picker with an sp-menu of sp-menu-items (selected attribute), read through selectedIndex. */
class SpPicker extends HTMLElement {
  private readonly select = document.createElement('select');
  private observer: MutationObserver | null = null;

  constructor() {
    super();
    this.select.className = 'standin-select';
    relay(this, this.select, 'change');
  }

  private items(): Element[] {
    return Array.from(this.querySelectorAll('sp-menu-item'));
  }

  connectedCallback(): void {
    if (this.select.parentNode !== this) this.appendChild(this.select);
    this.rebuild();
    this.observer = new MutationObserver(() => this.rebuild());
    this.observer.observe(this, { subtree: true, attributes: true, attributeFilter: ['selected'], childList: true });
  }

  disconnectedCallback(): void {
    this.observer?.disconnect();
  }

  private rebuild(): void {
    const items = this.items();
    if (this.select.options.length !== items.length) {
      this.select.replaceChildren(...items.map((item) => new Option(item.textContent ?? '', item.getAttribute('value') ?? '')));
    }
    const selected = items.findIndex((item) => item.hasAttribute('selected'));
    if (selected >= 0) this.select.selectedIndex = selected;
  }

  get selectedIndex(): number {
    return this.select.selectedIndex;
  }
}

class SpProgressbar extends HTMLElement {
  static observedAttributes = ['value', 'max'];
  private readonly fill = document.createElement('div');

  connectedCallback(): void {
    if (this.fill.parentNode) return;
    const track = document.createElement('div');
    track.className = 'standin-progress';
    this.fill.className = 'standin-progress-fill';
    track.appendChild(this.fill);
    this.appendChild(track);
    this.attributeChangedCallback();
  }

  attributeChangedCallback(): void {
    const max = Number(this.getAttribute('max') ?? 100) || 100;
    const value = Number(this.getAttribute('value') ?? 0) || 0;
    this.fill.style.width = `${Math.min(100, Math.max(0, (value / max) * 100))}%`;
  }
}

const STAND_INS: Record<string, CustomElementConstructor> = {
  'sp-textfield': SpTextfield,
  'sp-textarea': SpTextarea,
  'sp-slider': SpSlider,
  'sp-checkbox': SpCheckbox,
  'sp-picker': SpPicker,
  'sp-progressbar': SpProgressbar,
};

export function registerWidgetStandIns(): void {
  for (const [tag, constructor] of Object.entries(STAND_INS)) if (!customElements.get(tag)) customElements.define(tag, constructor);
}
