import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DDIMScheduler, alphasCumprod, type SchedulerConfig } from '../../src/engine/scheduler/ddim';
import { radStepSize, refinementThresholds } from '../../src/engine/rad/schedule';
import { frameWindows, coverage } from '../../src/engine/pipeline/windows';
import { TINY_RANDOM } from '../helpers/fixtures';

const SD: SchedulerConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  set_alpha_to_one: false,
  steps_offset: 1,
};

describe('DDIM scheduler (SD-1.x settings)', () => {
  const scheduler = new DDIMScheduler(SD);

  it('pins the timesteps of the reference', () => {
    expect(scheduler.timesteps(50).slice(0, 3)).toEqual([981, 961, 941]);
    expect(scheduler.timesteps(50).slice(-2)).toEqual([21, 1]);
    expect(scheduler.timesteps(5)).toEqual([801, 601, 401, 201, 1]);
  });

  it('computes ᾱ as diffusers does (the exporter table, in float32)', () => {
    const manifest = JSON.parse(readFileSync(path.join(TINY_RANDOM, 'model.json'), 'utf8'));
    const table: number[] = manifest.scheduler.alphas_cumprod;
    const mine = alphasCumprod(SD);
    let worst = 0;
    table.forEach((a, t) => (worst = Math.max(worst, Math.abs(mine[t]! - a) / a)));
    expect(worst).toBeLessThan(1e-6);
    // Known values: ᾱ_0 = 1 − 0.00085 and the final ᾱ used past t = 0 (set_alpha_to_one = false).
    expect(mine[0]).toBeCloseTo(0.99915, 6);
    expect(scheduler.finalAlphaCumprod).toBeCloseTo(0.99915, 6);
    expect(mine[999]).toBeCloseTo(0.00466, 5);
  });

  it('takes a DDIM step by hand-computed coefficients', () => {
    const t = 981;
    const prev = 961;
    const a = scheduler.alpha(t);
    const ap = scheduler.alpha(prev);
    const x = Float32Array.of(1.5);
    const eps = Float32Array.of(-0.25);
    const x0 = (1.5 - Math.sqrt(1 - a) * -0.25) / Math.sqrt(a);
    expect(scheduler.step(eps, t, x, 50)[0]).toBeCloseTo(Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * -0.25, 5);
  });

  it('inverts a step exactly when ε does not change (DDIM is deterministic)', () => {
    const x = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
    const eps = Float32Array.from({ length: 16 }, (_, i) => Math.cos(3 * i));
    const up = scheduler.inversionStep(eps, 961, x, 50); // from t = 941 to 961
    const back = scheduler.step(eps, 961, up, 50); // from 961 to 941
    back.forEach((v, i) => expect(v).toBeCloseTo(x[i]!, 4));
  });

  it('noises forward with √ᾱ and √(1−ᾱ)', () => {
    const a = scheduler.alpha(501);
    expect(scheduler.addNoise(Float32Array.of(2), Float32Array.of(1), 501)[0]).toBeCloseTo(2 * Math.sqrt(a) + Math.sqrt(1 - a), 6);
  });
});

describe('RAD schedule', () => {
  it('uses the reference step sizes 20·√linspace(1, 0.5, 50)', () => {
    expect(radStepSize(0, 50, 20, [1, 0.5])).toBeCloseTo(20, 10);
    expect(radStepSize(10, 50, 20, [1, 0.5])).toBeCloseTo(18.95, 2);
    expect(radStepSize(20, 50, 20, [1, 0.5])).toBeCloseTo(17.84, 2);
    expect(radStepSize(24, 50, 20, [1, 0.5])).toBeCloseTo(17.38, 2);
  });
  it('places refinement at steps 0, 10, 20 of 50', () => {
    const points = [
      { at: 0, threshold: 0.05 },
      { at: 0.2, threshold: 0.5 },
      { at: 0.4, threshold: 0.8 },
    ];
    expect([...refinementThresholds(points, 50)]).toEqual([
      [0, 0.05],
      [10, 0.5],
      [20, 0.8],
    ]);
  });
});

describe('sliding windows', () => {
  it('reproduces get_views(16, 4, 1): 13 windows, frames 3..12 covered four times', () => {
    const views = frameWindows(16, 4, 1);
    expect(views).toHaveLength(13);
    expect(views[0]).toEqual([0, 4]);
    expect(views[12]).toEqual([12, 16]);
    expect(Array.from(coverage(16, views))).toEqual([1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 2, 1]);
  });
  it('adds a last window where the stride leaves frames uncovered', () => {
    expect(frameWindows(17, 4, 3)).toEqual([
      [0, 4],
      [3, 7],
      [6, 10],
      [9, 13],
      [12, 16],
      [13, 17],
    ]);
  });
  it('is one window in full-clip mode', () => {
    expect(frameWindows(16, null, 1)).toEqual([[0, 16]]);
    expect(frameWindows(8, 16, 1)).toEqual([[0, 8]]);
  });
});
