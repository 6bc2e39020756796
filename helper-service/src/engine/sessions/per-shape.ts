/**
 * Several sessions of one graph, each kept on the input shapes it last ran. ONNX Runtime's CUDA
 * provider plans (and, by default, autotunes) every convolution again whenever a session's input
 * shape changes, and keeps no plan for the shape before: on the H200 the SD-1.x ε UNet took 2.6–2.8 s
 * for the first call after each switch between inversion (batch 1) and guidance (batch 2), 30 times
 * its usual time. One session per shape costs one more copy of the weights and its own arena instead.
 * Shapes are told apart by a key: feeds whose convolutions see the same dims can share a session.
 */
import { ModelError } from '../../errors';
import type { Feeds, GraphRunner, Outputs } from './ort';

interface Slot {
  readonly session: GraphRunner;
  shapes: string | null;
  lastUsed: number;
  /** Opened for a new shape and not yet run: its arena is still to be allocated. */
  fresh: boolean;
}

const isOutOfMemory = (error: unknown) => error instanceof ModelError && error.code === 'OUT_OF_MEMORY';

/** The feeds' dims, as one key. */
export function shapeKey(feeds: Feeds): string {
  return Object.keys(feeds)
    .sort()
    .map((name) => `${name}:${feeds[name]!.dims.join('x')}`)
    .join(' ');
}

export class PerShapeSessions implements GraphRunner {
  private readonly slots: Slot[];
  private clock = 0;

  /**
   * `first` is already open; up to `capacity - 1` more are opened by `open` when new shapes come.
   * When one cannot be opened, or its first run finds no memory for its arena (next to the other
   * sessions' arenas, which ONNX Runtime never gives back), it is given back and the sessions already
   * open take turns instead.
   */
  constructor(
    first: GraphRunner,
    private readonly open: () => Promise<GraphRunner>,
    private capacity: number,
    private readonly key: (feeds: Feeds) => string = shapeKey,
  ) {
    this.slots = [{ session: first, shapes: null, lastUsed: 0, fresh: false }];
  }

  get name(): string {
    return this.slots[0]!.session.name;
  }

  /** Sessions open now. */
  get size(): number {
    return this.slots.length;
  }

  async run(feeds: Feeds): Promise<Outputs> {
    const slot = await this.slotFor(this.key(feeds));
    slot.lastUsed = ++this.clock;
    if (!slot.fresh) return slot.session.run(feeds);
    slot.fresh = false;
    try {
      return await slot.session.run(feeds);
    } catch (error) {
      if (!isOutOfMemory(error)) throw error;
      this.slots.splice(this.slots.indexOf(slot), 1);
      this.capacity = this.slots.length;
      await slot.session.release();
      return this.run(feeds);
    }
  }

  private async slotFor(shapes: string): Promise<Slot> {
    const same = this.slots.find((s) => s.shapes === shapes) ?? this.slots.find((s) => s.shapes === null);
    if (same) {
      same.shapes = shapes;
      return same;
    }
    if (this.slots.length < this.capacity) {
      try {
        const slot = { session: await this.open(), shapes, lastUsed: 0, fresh: true };
        this.slots.push(slot);
        return slot;
      } catch (error) {
        if (!isOutOfMemory(error)) throw error;
        this.capacity = this.slots.length;
      }
    }
    const oldest = this.slots.reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a));
    oldest.shapes = shapes;
    return oldest;
  }

  async release(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.session.release()));
  }
}
