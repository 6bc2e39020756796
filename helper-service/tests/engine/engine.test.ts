/** The engine in its worker thread: progress, cancellation, a responsive event loop, clear errors. */
import { Engine } from '../../src/engine';
import { CancelledError, ModelError, ValidationError } from '../../src/errors';
import type { Progress } from '../../src/engine';
import { OracleFixtures, TINY_RANDOM } from '../helpers/fixtures';

const fx = new OracleFixtures();
const size = { width: fx.meta.width, height: fx.meta.height };
const objects = [
  { tokenIndex: fx.meta.token_indices[0]!, region: { kind: 'boxes' as const, keyframes: [{ frame: 0, box: [16, 24, 72, 88] as const }] } },
];
const request = (settings = {}) => ({
  frames: fx.frames('frames_source'),
  size,
  prompt: fx.meta.prompts.edit,
  objects,
  settings: { steps: 4, inversionSteps: 4, maxRefinementIterations: 1, ...settings },
});

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.start({ modelDir: TINY_RANDOM, provider: 'cpu', threads: 2 });
});
afterAll(() => engine.close());

it('falls back to the CPU with one log line when CUDA cannot load', async () => {
  const lines: string[] = [];
  const gpu = await Engine.start({ modelDir: TINY_RANDOM, provider: 'cuda', log: (l) => lines.push(l) });
  try {
    expect(gpu.provider).toBe('cpu');
    expect(gpu.fallbackReason).toBeTruthy();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/CUDA is not available.*CPU/);
  } finally {
    await gpu.close();
  }
});

it('reports progress per model call through every stage, with an ETA, and returns frames', async () => {
  const seen: Progress[] = [];
  const result = await engine.edit(request(), { onProgress: (p) => seen.push(p) });
  expect(result.frames).toHaveLength(fx.meta.frames);
  expect(result.frames[0]!.length).toBe(size.width * size.height * 3);
  expect(new Set(seen.map((p) => p.stage))).toEqual(new Set(['encode', 'invert', 'edit', 'decode']));
  // One report per model call, then a last one when the decoded frames are ready.
  const calls = seen.map((p) => p.modelCalls);
  expect(calls).toEqual([...calls.slice(0, -1).map((_, i) => i + 1), calls.length - 1]);
  const stages = seen.map((p) => p.stage);
  expect(stages.indexOf('invert')).toBeLessThan(stages.indexOf('edit'));
  expect(seen.at(-1)!.fraction).toBeCloseTo(1, 5);
  expect(seen.filter((p) => p.stage === 'edit').every((p) => p.etaMs !== null)).toBe(true);
  expect(result.stats.epsCalls).toBe(4 + 4);
});

it('stops within one model call of a cancel, and the worker takes the next edit', async () => {
  const controller = new AbortController();
  let callsAtAbort = -1;
  let lastCall = 0;
  const run = engine.edit(request({ steps: 20 }), {
    signal: controller.signal,
    onProgress: (p) => {
      lastCall = p.modelCalls;
      if (p.stage === 'edit' && callsAtAbort < 0) {
        callsAtAbort = p.modelCalls;
        controller.abort();
      }
    },
  });
  await expect(run).rejects.toBeInstanceOf(CancelledError);
  expect(lastCall - callsAtAbort).toBeLessThanOrEqual(1);
  const next = await engine.edit(request({ steps: 2, inversionSteps: 2 }));
  expect(next.frames).toHaveLength(fx.meta.frames);
});

it('keeps the event loop responsive while inference runs', async () => {
  let worstGap = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
  }, 10);
  await engine.edit(request());
  clearInterval(timer);
  expect(worstGap).toBeLessThan(250);
});

it('rejects bad input with coded errors before any model runs', async () => {
  const calls: number[] = [];
  const onProgress = (p: Progress) => calls.push(p.modelCalls);
  await expect(engine.edit({ ...request(), size: { width: 100, height: 128 } }, { onProgress })).rejects.toMatchObject({ code: 'FRAME_SIZE_INVALID' });
  await expect(engine.edit({ ...request(), objects: [{ ...objects[0]!, tokenIndex: 40 }] }, { onProgress })).rejects.toMatchObject({
    code: 'TOKEN_INDEX_INVALID',
  });
  const outside = { kind: 'boxes' as const, keyframes: [{ frame: 0, box: [100, 100, 200, 120] as const }] };
  await expect(engine.edit({ ...request(), objects: [{ ...objects[0]!, region: outside }] }, { onProgress })).rejects.toMatchObject({
    code: 'REGION_OUT_OF_FRAME',
  });
  const tiny = { kind: 'boxes' as const, keyframes: [{ frame: 0, box: [0, 0, 6, 6] as const }] };
  await expect(engine.edit({ ...request(), objects: [{ ...objects[0]!, region: tiny }] }, { onProgress })).rejects.toBeInstanceOf(ValidationError);
  await expect(engine.edit(request({ steps: 0 }))).rejects.toMatchObject({ code: 'INVALID_SETTINGS' });
  await expect(engine.edit(request({ window: 1 }))).rejects.toMatchObject({ code: 'INVALID_SETTINGS' });
  expect(calls).toEqual([]);
});

it('refuses a missing or broken model package clearly', async () => {
  await expect(Engine.start({ modelDir: '/nonexistent', provider: 'cpu' })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  await expect(Engine.start({ modelDir: fx.meta.frames ? __dirname : '', provider: 'cpu' })).rejects.toBeInstanceOf(ModelError);
});
