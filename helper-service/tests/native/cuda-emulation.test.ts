/**
 * The library's CUDA kernels on the CPU emulation of the CUDA execution model (helper-service/native/
 * emulation), each by its GPU check of scripts/custom-op-check against float64, under three schedules
 * (threads in turn; one warp as far ahead of the others as it can go; copies landing at once, warps
 * last to first), so that a missing barrier or wait shows; and the emulation's own checks. On the
 * H200 the same checks gave attention errors of 2.4e-4 to 3.0e-4 normwise and norm and softmax errors
 * of 0.50 to 0.52 fp16 ulps (helper-service/results/gpu-2026-12-02, gpu-2026-12-01i).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const HELPER = path.resolve(__dirname, '..', '..', '..');
const EMULATION = path.join(HELPER, 'native', 'emulation');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'reatco-simt-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The program built from `source` for the emulation. */
function build(source: string): string {
  const program = path.join(scratch, path.basename(source, '.cu'));
  execFileSync('bash', [path.join(EMULATION, 'build.sh'), source, program], { stdio: ['ignore', 'ignore', 'pipe'] });
  return program;
}

function run(program: string, schedule = ''): Record<string, unknown> {
  const output = execFileSync(program, { env: { ...process.env, REATCO_SIMT_SCHEDULE: schedule }, encoding: 'utf8' });
  return JSON.parse(output) as Record<string, unknown>;
}

interface AttentionCase {
  lq: number;
  lk: number;
  d: number;
  lse_abs: number;
  dq: number;
  dk: number;
  dv: number;
}

const SCHEDULES = ['', 'skew', 'eager,skew,reverse'];

/** Builds a kernel check of scripts/custom-op-check once, runs it under each schedule and judges its JSON. */
function checkUnderSchedules(check: string, title: string, verify: (result: Record<string, unknown>) => void): void {
  let program: string;
  beforeAll(() => (program = build(path.join(HELPER, 'scripts', 'custom-op-check', `${check}.cu`))));
  it.each(SCHEDULES)(`${title} under schedule "%s"`, (schedule) => verify(run(program, schedule)));
}

describe('attention backward (attention_grad.cu)', () => {
  checkUnderSchedules('attention_grad_check', 'matches float64', (result) => {
    expect(result.within_tolerance).toBe(true);
    const cases = result.cases as AttentionCase[];
    expect(cases).toHaveLength(9);
    for (const c of cases) {
      // fp16 rounding of P and dS in the products: a few 1e-4 normwise, as on the H200.
      for (const error of [c.dq, c.dk, c.dv]) expect(error).toBeLessThan(5e-4);
      expect(c.lse_abs).toBeLessThan(1e-5);
    }
  });
});

describe('norm and activation backwards (norm_grads.cu)', () => {
  checkUnderSchedules('norm_grads_check', 'match float64 within an fp16 ulp', (result) => {
    expect(result.within_tolerance).toBe(true);
    const groupNorm = result.group_norm as { means_relative: number; dx_ulps: number }[];
    const errors = [...groupNorm.map((c) => c.dx_ulps), ...(result.layer_norm as { dx_ulps: number }[]).map((c) => c.dx_ulps), ...(result.gated_gelu as { ulps: number }[]).map((c) => c.ulps)];
    expect(errors).toHaveLength(13);
    for (const error of errors) expect(error).toBeLessThanOrEqual(1);
    for (const c of groupNorm) expect(c.means_relative).toBeLessThan(1e-6);
  });
});

describe('softmax times gradient (softmax_times_grad.cu)', () => {
  checkUnderSchedules('softmax_times_grad_check', 'matches float64 within an fp16 ulp', (result) => {
    expect(result.within_2_ulps).toBe(true);
    const cases = result.worst_error_in_fp16_ulps as { p: number; ds: number }[];
    expect(cases).toHaveLength(5);
    for (const c of cases) expect(Math.max(c.p, c.ds)).toBeLessThanOrEqual(1);
  });
});

describe('the emulation itself (selfcheck.cu)', () => {
  it('runs shared memory, barriers, shuffles and waited copies as CUDA does, and names what a broken kernel does', () => {
    const result = run(build(path.join(EMULATION, 'selfcheck.cu')));
    expect(result.sums).toEqual([8128, 24512]);
    expect(result.sum_error).toBe('');
    expect(result.stale_then_fresh).toBe(true);
    expect(result.divergent).toBe('the lanes of warp 0 diverge: one at __syncthreads, another at shfl.sync.bfly');
    expect(result.returns_early).toBe('__syncthreads: thread 5 has returned while others wait for it');
    expect(result.barrier_in_one_warp).toBe('deadlock: 32 threads wait at __syncthreads, 32 have returned');
  });
});
