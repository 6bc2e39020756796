/**
 * PerShapeSessions: each input shape stays on the session that last ran it (the CUDA provider re-plans
 * every convolution at a shape switch). Real sessions of tiny-random's text encoder, whose batch varies.
 */
import path from 'node:path';
import { ModelError } from '../../src/errors';
import { convolutionKey } from '../../src/engine/models';
import { dataOf, float32, GraphSession, int64, type Feeds, type GraphRunner, type Outputs } from '../../src/engine/sessions/ort';
import { PerShapeSessions, shapeKey } from '../../src/engine/sessions/per-shape';
import { TINY_RANDOM } from '../helpers/fixtures';

const GRAPH = path.join(TINY_RANDOM, 'text_encoder.onnx');
const ids = (batch: number): Feeds => ({ input_ids: int64(Array.from({ length: batch * 77 }, (_, i) => (i * 7) % 600), [batch, 77]) });

/** A real session that records the batch of every run. */
class Recorded implements GraphRunner {
  readonly batches: number[] = [];
  constructor(private readonly session: GraphSession) {}
  get name() {
    return this.session.name;
  }
  async run(feeds: Feeds): Promise<Outputs> {
    this.batches.push(feeds.input_ids!.dims[0]!);
    return this.session.run(feeds);
  }
  release() {
    return this.session.release();
  }
}

const opened: Recorded[] = [];
const openRecorded = async () => {
  const r = new Recorded(await GraphSession.open('text encoder', GRAPH, { provider: 'cpu', threads: 1 }));
  opened.push(r);
  return r;
};

afterEach(async () => {
  await Promise.all(opened.splice(0).map((r) => r.release()));
});

describe('PerShapeSessions', () => {
  it('keys feeds by every input dims, whatever the order of the names', () => {
    const a = { x: int64([1, 2], [2]), y: int64([1], [1, 1]) };
    expect(shapeKey(a)).toBe(shapeKey({ y: a.y, x: a.x }));
    expect(shapeKey(a)).not.toBe(shapeKey({ x: int64([1, 2], [1, 2]), y: a.y }));
  });

  it('gives each of two alternating shapes its own session, and returns what a plain session returns', async () => {
    const pool = new PerShapeSessions(await openRecorded(), openRecorded, 2);
    const plain = await GraphSession.open('text encoder', GRAPH, { provider: 'cpu', threads: 1 });
    for (const batch of [1, 2, 1, 2, 2, 1]) {
      const got = dataOf((await pool.run(ids(batch))).last_hidden_state, 'last_hidden_state');
      const want = dataOf((await plain.run(ids(batch))).last_hidden_state, 'last_hidden_state');
      expect(got).toEqual(want);
    }
    await plain.release();
    expect(pool.size).toBe(2);
    const [first, second] = opened;
    expect(first!.batches).toEqual([1, 1, 1]);
    expect(second!.batches).toEqual([2, 2, 2]);
  });

  it('hands a new shape to the least recently used session once all are open', async () => {
    const pool = new PerShapeSessions(await openRecorded(), openRecorded, 2);
    for (const batch of [1, 2, 3, 2, 1]) await pool.run(ids(batch));
    const [first, second] = opened;
    expect(opened).toHaveLength(2);
    expect(first!.batches).toEqual([1, 3, 1]); // 1 was used before 2, so 3 took its session; then 1 took it back
    expect(second!.batches).toEqual([2, 2]);
  });

  it('lets feeds with the same key share a session', async () => {
    const pool = new PerShapeSessions(await openRecorded(), openRecorded, 2, (feeds) => String(feeds.input_ids!.dims[0]! <= 2));
    for (const batch of [1, 2, 3, 1]) await pool.run(ids(batch));
    expect(opened.map((r) => r.batches)).toEqual([[1, 2, 1], [3]]);
  });

  it("keys the ε UNet's calls by what its convolutions see: batch x frames images of one size", () => {
    const sample = (dims: number[]) => ({ sample: float32(new Float32Array(dims.reduce((a, b) => a * b)), dims) });
    expect(convolutionKey(sample([1, 4, 16, 7, 12]))).toBe(convolutionKey(sample([2, 4, 8, 7, 12]))); // inversion and CFG on 8-frame windows
    expect(convolutionKey(sample([1, 4, 16, 7, 12]))).not.toBe(convolutionKey(sample([2, 4, 16, 7, 12]))); // and on the full clip
    expect(convolutionKey(sample([1, 4, 16, 7, 12]))).not.toBe(convolutionKey(sample([1, 4, 16, 12, 7])));
  });

  it('takes turns on the sessions it has when another cannot be opened for lack of memory', async () => {
    const pool = new PerShapeSessions(await openRecorded(), () => Promise.reject(new ModelError('OUT_OF_MEMORY', 'no memory')), 2);
    for (const batch of [1, 2, 1]) await pool.run(ids(batch));
    expect(pool.size).toBe(1);
    expect(opened[0]!.batches).toEqual([1, 2, 1]);
  });

  it('gives back a new session whose first run finds no memory, and runs the call on the one it has', async () => {
    let released = 0;
    const noArena = async (): Promise<GraphRunner> => ({
      name: 'text encoder',
      run: () => Promise.reject(new ModelError('OUT_OF_MEMORY', 'The GPU ran out of memory running text encoder.')),
      release: async () => void released++,
    });
    const pool = new PerShapeSessions(await openRecorded(), noArena, 2);
    const plain = await GraphSession.open('text encoder', GRAPH, { provider: 'cpu', threads: 1 });
    for (const batch of [1, 2, 1, 2]) {
      const got = dataOf((await pool.run(ids(batch))).last_hidden_state, 'last_hidden_state');
      expect(got).toEqual(dataOf((await plain.run(ids(batch))).last_hidden_state, 'last_hidden_state'));
    }
    await plain.release();
    expect(released).toBe(1);
    expect(pool.size).toBe(1);
    expect(opened[0]!.batches).toEqual([1, 2, 1, 2]);
  });

  it('passes on an out-of-memory error of a session that has run before', async () => {
    let runs = 0;
    const failsLater = async (): Promise<GraphRunner> => ({
      name: 'text encoder',
      run: () => (runs++ ? Promise.reject(new ModelError('OUT_OF_MEMORY', 'no memory')) : Promise.resolve({})),
      release: async () => {},
    });
    const pool = new PerShapeSessions(await openRecorded(), failsLater, 2);
    await pool.run(ids(1));
    await pool.run(ids(2));
    await expect(pool.run(ids(2))).rejects.toMatchObject({ code: 'OUT_OF_MEMORY' });
  });

  it('passes on any other error from opening a session', async () => {
    const pool = new PerShapeSessions(await openRecorded(), () => Promise.reject(new ModelError('MODEL_INVALID', 'broken')), 2);
    await pool.run(ids(1));
    await expect(pool.run(ids(2))).rejects.toMatchObject({ code: 'MODEL_INVALID' });
  });
});
