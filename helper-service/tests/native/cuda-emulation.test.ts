/**
 * The library's CUDA kernels on the CPU emulation of the CUDA execution model (helper-service/native/
 * emulation): the attention backward's kernels against float64 under three schedules (threads in
 * turn; one warp far ahead of the others; copies landing at once, warps last to first), so that a
 * missing barrier or wait shows; and the emulation's own checks. On the H200 the same check gave
 * normwise errors of 2.4e-4 to 3.0e-4 (helper-service/results/gpu-2026-12-02/second-round).
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

describe('attention backward kernels (attention_grad.cu) on the CPU emulation', () => {
  let program: string;
  beforeAll(() => (program = build(path.join(HELPER, 'scripts', 'custom-op-check', 'attention_grad_check.cu'))));

  it.each(['', 'skew', 'eager,skew,reverse'])('match float64 under schedule "%s"', (schedule) => {
    const result = run(program, schedule);
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
