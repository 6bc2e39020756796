/** A minimal observable store: the UI renders from `state` and re-renders on every change. */
export class Store<S extends object> {
  private current: S;
  private readonly listeners = new Set<(state: S, previous: S) => void>();

  constructor(initial: S) {
    this.current = initial;
  }

  get state(): S {
    return this.current;
  }

  update(change: Partial<S> | ((state: S) => Partial<S>)): void {
    const previous = this.current;
    const patch = typeof change === 'function' ? change(previous) : change;
    this.current = { ...previous, ...patch };
    for (const listener of this.listeners) listener(this.current, previous);
  }

  subscribe(listener: (state: S, previous: S) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
