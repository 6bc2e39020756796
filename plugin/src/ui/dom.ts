/**
 * Building elements without a framework (UXP runs plain DOM well; a virtual DOM would re-create text
 * fields and lose the caret). Sections build their elements once and update them from state.
 */
type Child = Node | string | null | undefined | false;

export interface Props {
  readonly className?: string;
  readonly text?: string;
  readonly attrs?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly on?: Readonly<Record<string, (event: Event) => void>>;
}

/** Any element, the sp-* widgets included (they are custom elements without TypeScript types). */
export function el(tag: string, props: Props = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  if (props.className) element.className = props.className;
  if (props.text !== undefined) element.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) setAttr(element, name, value);
  for (const [type, handler] of Object.entries(props.on ?? {})) element.addEventListener(type, handler);
  for (const child of children) if (child) element.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  return element;
}

/** Boolean attributes are present or absent, as Spectrum widgets expect. */
export function setAttr(element: Element, name: string, value: string | number | boolean | undefined): void {
  if (value === false || value === undefined) element.removeAttribute(name);
  else element.setAttribute(name, value === true ? '' : String(value));
}

export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

export function show(element: HTMLElement, visible: boolean): void {
  element.style.display = visible ? '' : 'none';
}

export function replaceChildren(element: Element, children: readonly Node[]): void {
  while (element.firstChild) element.removeChild(element.firstChild);
  for (const child of children) element.appendChild(child);
}

/** The value of a text widget (sp-textfield, sp-textarea, or a stand-in). */
export function valueOf(element: Element): string {
  return String((element as unknown as { value?: unknown }).value ?? '');
}

/** Sets a text widget's value only when it differs, so typing keeps its caret. */
export function setValue(element: Element, value: string): void {
  if (valueOf(element) !== value) (element as unknown as { value: string }).value = value;
}

/** A section of the panel: built once, updated from every new state. */
export interface View<S> {
  readonly element: HTMLElement;
  update(state: S, previous: S | null): void;
}
